"""Attention maps: recorded only when asked, the same decoding either way, the weights MMHA
computes, one patch map per decoded character of each branch, on the backbone's patch grid."""
from collections import Counter

import pytest
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from clip4str_plugin.models.parseq.attention import CachedMultiheadAttention
from clip4str_plugin.visualization.attention_maps import (final_pass, patch_grid,
                                                          predict_with_attention, recording)
from conftest import build_model, load_config, make_samples, tiny_model


def word_batch(texts, seed=1):
    torch.manual_seed(seed)
    return dict(inputs=[(torch.rand(3, 32, 128) * 255).to(torch.uint8) for _ in texts],
                data_samples=make_samples(texts))


@pytest.fixture(scope='module')
def model():
    return tiny_model(max_seq_len=7)                 # at most 7 characters: fewer steps


def test_recorded_weights_are_multihead_attentions_averaged_over_heads():
    torch.manual_seed(0)
    ours, reference = CachedMultiheadAttention(32, 4).eval(), nn.MultiheadAttention(
        32, 4, batch_first=True).eval()
    reference.in_proj_weight.data.copy_(ours.in_proj_weight)
    reference.in_proj_bias.data.copy_(ours.in_proj_bias)
    reference.out_proj.load_state_dict(ours.out_proj.state_dict())
    x, memory = torch.randn(2, 3, 32), torch.randn(2, 7, 32)
    blocked = torch.zeros(2, 1, 3, 7, dtype=torch.bool)
    blocked[1, 0, :, 5:] = True
    with recording(ours) as calls:
        out = ours(x, ours.project_kv(memory), blocked)
    expected, weights = reference(x, memory, memory, attn_mask=blocked.repeat(1, 4, 1, 1)
                                  .flatten(0, 1))
    assert len(calls) == 1 and calls[0].shape == (2, 3, 7)
    torch.testing.assert_close(calls[0], weights)
    torch.testing.assert_close(out, expected)
    assert ours.recorder is None                     # nothing recorded outside the block
    ours(x, ours.project_kv(memory))
    assert len(calls) == 1


def test_same_strings_scores_and_logits_with_and_without_maps(model):
    with torch.no_grad():     # as MMEngine's test loop (and the recording) run it
        plain = model.test_step(word_batch(['ab', 'cde', 'f']))
    mapped, maps = predict_with_attention(model, word_batch(['ab', 'cde', 'f']))
    for a, b in zip(plain, mapped):
        assert a.pred_text.item == b.pred_text.item
        assert a.pred_text.score == b.pred_text.score
        assert a.visual_pred_text.item == b.visual_pred_text.item
    image = model.extract_feat(model.data_preprocessor(word_batch(['x']))['inputs'])
    decoder = model.decoder
    with torch.no_grad():
        before = decoder.decode(image)
        with recording(decoder.visual_decoder.layers[-1].cross_attn) as v, \
                recording(decoder.cross_decoder.layers[-1].cross_attn) as c:
            during = decoder.decode(image)
    assert v and c
    for a, b in zip(before, during):
        assert torch.equal(a, b)


def test_one_map_per_character_per_branch_on_the_patch_grid(model):
    samples, maps = predict_with_attention(model, word_batch(['ab', 'cde']))
    assert patch_grid(model) == (8, 16, 1)           # 32x128 input, 4x8 patches, CLS first
    for sample, per_branch in zip(samples, maps):
        assert set(per_branch) == {'visual', 'cross'}
        assert per_branch['cross'].text == sample.pred_text.item
        assert per_branch['visual'].text == sample.visual_pred_text.item
        for branch in per_branch.values():
            assert branch.maps.shape == (len(branch.text), 8, 16)
            assert branch.source == 'refinement'
            assert (branch.maps >= 0).all() and (branch.maps.sum((1, 2)) <= 1 + 1e-5).all()


def torch_calls(fn):
    """How often each torch function ran during ``fn()``."""
    counts = Counter()

    class Count(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            counts[getattr(func, '__name__', str(func))] += 1
            return func(*args, **(kwargs or {}))

    with torch.no_grad(), Count():
        fn()
    return counts


def test_no_extra_work_unless_asked(model):
    image = model.extract_feat(model.data_preprocessor(word_batch(['x']))['inputs'])
    decoder = model.decoder
    before = torch_calls(lambda: decoder.decode(image))
    with recording(decoder.visual_decoder.layers[-1].cross_attn) as calls:
        during = torch_calls(lambda: decoder.decode(image))
    after = torch_calls(lambda: decoder.decode(image))
    assert after == before and before['scaled_dot_product_attention'] > 0
    extra = during - before
    assert extra['softmax'] == len(calls) > 0      # the weights, only while recording


def test_maps_point_at_the_patch_the_decoder_attends(model, monkeypatch):
    """Queries that only look for a feature one patch has: its map cell holds the attention."""
    dim, heads = 128, 8
    hot = 1 + 3 * 16 + 11                            # row 3, column 11, after CLS
    memory = torch.zeros(1, 1 + 8 * 16, dim)
    memory[0, hot, 0], memory[0, 0, 0] = 400.0, -400.0
    monkeypatch.setattr(model, 'extract_feat', lambda inputs: memory.expand(len(inputs), -1, -1))
    for net in (model.decoder.visual_decoder, model.decoder.cross_decoder):
        attn = net.layers[-1].cross_attn
        weight, bias = attn.in_proj_weight.detach().clone(), attn.in_proj_bias.detach().clone()
        weight[:2 * dim] = 0
        bias[:2 * dim] = 0
        bias[0:dim:dim // heads] = 1.0               # every head's query: 1 on its first dim
        weight[dim:2 * dim:dim // heads, 0] = 1.0    # every head's key: the memory's feature 0
        monkeypatch.setattr(attn, 'in_proj_weight', nn.Parameter(weight))
        monkeypatch.setattr(attn, 'in_proj_bias', nn.Parameter(bias))
    _, maps = predict_with_attention(model, word_batch(['ab']))
    for branch in maps[0].values():
        assert len(branch.text) > 0
        assert (branch.maps[:, 3, 11] > 0.99).all(), branch.maps[:, 3, 11]


def test_the_pass_the_maps_come_from():
    steps = [torch.full((2, 1, 5), float(i)) for i in range(3)]
    refined = torch.zeros(2, 26, 5)
    assert final_pass(steps + [refined], True, 1)[1] == 'refinement'
    assert final_pass(steps + [refined], True, 1)[0] is refined
    ar, source = final_pass(steps, True, 0)
    assert source == 'autoregressive' and ar.shape == (2, 3, 5) and ar[0, 2, 0] == 2
    assert final_pass([refined], False, 0)[1] == 'one-shot'


def test_autoregressive_maps_without_refinement():
    model = tiny_model(refine_iters=0, max_seq_len=7)
    samples, maps = predict_with_attention(model, word_batch(['ab']))
    for branch in maps[0].values():
        assert branch.source == 'autoregressive'
        assert branch.maps.shape[0] == len(branch.text)


def test_a_single_network_on_a_vit_and_an_encoder_refused():
    cfg = load_config()
    vit = dict(type='ViTBackbone', img_size=(32, 128), patch_size=(8, 8), embed_dim=64, depth=1,
               num_heads=2)
    decoder = dict(type='PARSeqRecDecoder', dictionary=cfg.model.decoder.dictionary,
                   decoder=dict(embed_dim=64, num_heads=2),
                   postprocessor=dict(type='PARSeqPostprocessor'),
                   module_loss=dict(type='PLMModuleLoss'))
    recognizer = dict(type='EncoderDecoderRecognizer', backbone=vit, decoder=decoder,
                      data_preprocessor=cfg.model.data_preprocessor)
    torch.manual_seed(0)
    model = build_model(recognizer).eval()
    samples, maps = predict_with_attention(model, word_batch(['ab']))
    assert list(maps[0]) == ['decoder']
    assert maps[0]['decoder'].text == samples[0].pred_text.item
    assert maps[0]['decoder'].maps.shape == (len(samples[0].pred_text.item), 4, 16)
    fmu = build_model(dict(recognizer, encoder=dict(type='FeatureMergeUnit', embed_dim=64,
                                                    num_heads=2))).eval()
    with pytest.raises(ValueError, match='the decoder reads FeatureMergeUnit tokens, not image '
                                         'patches'):
        predict_with_attention(fmu, word_batch(['ab']))
