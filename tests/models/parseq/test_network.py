"""PARSeqNetwork: cached AR equals recomputation, grouped (permutation) batching, attention."""
import numpy as np
import pytest
import torch
from torch import nn

from clip4str_plugin.models.parseq.attention import CachedMultiheadAttention, SplitMemory
from clip4str_plugin.models.parseq.network import PARSeqNetwork, first_pass
from clip4str_plugin.models.parseq.permutations import (causal_mask, generate_permutations,
                                                        permutation_masks)

BOS, EOS, PAD = 95, 0, 96


def decoder(depth=2, dim=32):
    torch.manual_seed(0)
    model = PARSeqNetwork(num_classes=95, vocab_size=97, bos_id=BOS, eos_id=EOS,
                          embed_dim=dim, depth=depth, num_heads=4, dropout=0.1)
    return model.eval()


def test_reference_state_dict_keys():
    keys = set(decoder(depth=1).state_dict())
    for name in ('self_attn.in_proj_weight', 'self_attn.in_proj_bias', 'self_attn.out_proj.weight',
                 'cross_attn.in_proj_weight', 'linear1.weight', 'linear2.bias', 'norm1.weight',
                 'norm2.weight', 'norm_q.weight', 'norm_c.bias'):
        assert f'layers.0.{name}' in keys
    assert {'text_embed.embedding.weight', 'pos_queries', 'norm.weight', 'head.weight'} <= keys
    assert decoder(depth=1).pos_queries.shape == (1, 26, 32)


def test_attention_equals_torch_multihead_attention():
    torch.manual_seed(0)
    ours = CachedMultiheadAttention(16, 4)
    ref = nn.MultiheadAttention(16, 4, batch_first=True)
    ref.load_state_dict(ours.state_dict())
    x, mem = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    blocked = torch.rand(5, 7) > 0.6
    blocked[:, 0] = False
    expected = ref(x, mem, mem, attn_mask=blocked, need_weights=False)[0]
    assert torch.allclose(ours(x, ours.project_kv(mem), blocked), expected, atol=1e-6)


@pytest.mark.parametrize('depth', [1, 3])
@torch.no_grad()
def test_cached_ar_equals_recomputation(depth):
    """Each cached step equals re-running the decoder on the prefix with causal masks."""
    model = decoder(depth)
    memory = torch.randn(3, 11, 32)
    logits = model.decode_ar(memory, early_stop=False)
    assert logits.shape == (3, 26, 95)
    tokens = torch.cat([torch.full((3, 1), BOS), logits[:, :-1].argmax(-1)], dim=1)
    mask = causal_mask(26)[None]
    full = model(tokens, memory, query_mask=mask, content_mask=mask)[0]
    assert torch.allclose(full, logits, atol=1e-5)
    # the straightforward loop: one full forward per step on the growing prefix
    for step in (0, 7, 25):
        prefix = tokens[:, :step + 1]
        step_mask = causal_mask(step + 1)[None]
        out = model(prefix, memory, query_mask=step_mask, content_mask=step_mask)[0]
        assert torch.allclose(out[:, step], logits[:, step], atol=1e-5)


@torch.no_grad()
def test_ar_stops_once_every_sample_ended():
    model = decoder(1)
    model.head.bias.data[EOS] = 100.0    # every step predicts [E]
    assert model.decode_ar(torch.randn(2, 5, 32)).shape == (2, 1, 95)
    assert model.decode_ar(torch.randn(2, 5, 32), early_stop=False).shape == (2, 26, 95)


@pytest.mark.parametrize('depth,memory_kind', [(1, 'shared'), (2, 'shared'), (2, 'per_group'),
                                               (1, 'split'), (2, 'split')])
@torch.no_grad()
def test_permutation_batching_equals_one_call_per_permutation(depth, memory_kind):
    model = decoder(depth)
    target = torch.tensor([[BOS, 5, 6, 7, 8, EOS], [BOS, 8, 9, EOS, PAD, PAD]])
    tokens = target[:, :-1]
    padding = (tokens == PAD) | (tokens == EOS)
    perms = generate_permutations(4, 6, np.random.default_rng(0))
    content_mask, query_mask = permutation_masks(perms)
    image, text = torch.randn(2, 9, 32), torch.randn(len(perms) * 2, 3, 32)
    memory = dict(shared=image, per_group=torch.cat([image.repeat(len(perms), 1, 1), text], 1),
                  split=SplitMemory(image, text))[memory_kind]
    batched = model(tokens, memory, query_mask, content_mask, padding)
    assert batched.shape == (len(perms), 2, 5, 95)
    for k in range(len(perms)):
        mem = image if memory_kind == 'shared' else torch.cat([image, text[2 * k:2 * k + 2]], 1)
        single = model(tokens, mem, query_mask[k:k + 1], content_mask[k:k + 1], padding)[0]
        assert torch.allclose(batched[k], single, atol=1e-5)


@torch.no_grad()
def test_refine_and_nar_shapes():
    model = decoder(2)
    memory = torch.randn(2, 9, 32)
    logits = model.decode_ar(memory)
    assert model.refine(memory, logits).shape == (2, 26, 95)
    nar = first_pass(model, model.memory_kv(memory), 2, autoregressive=False)
    assert nar.shape == (2, 26, 95)
    assert torch.equal(first_pass(model, model.memory_kv(memory), 2), logits)
