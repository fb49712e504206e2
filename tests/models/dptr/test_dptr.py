"""DPTR components: frozen CLIP text memory, ORP, FMU, text-only pre-training."""
import open_clip
import pytest
import torch

from clip4str_plugin.models.clip.towers import CLIPTextEncoder
from clip4str_plugin.models.dptr.fmu import FeatureMergeUnit
from clip4str_plugin.models.dptr.orp import ORPPerturbation
from clip4str_plugin.models.dptr.text_memory import FrozenCLIPTextMemory
from conftest import CONFIGS, build_model, load_config

GEOMETRY = dict(embed_dim=32, width=32, layers=2, heads=1)


def test_text_memory_shape_content_and_freezing(tmp_path):
    torch.manual_seed(0)
    reference = CLIPTextEncoder(**GEOMETRY, text_length=77, freeze_nlayer=-1)
    path = tmp_path / 'clip_text.bin'
    torch.save(reference.text.state_dict(), str(path))
    memory = FrozenCLIPTextMemory(pretrained=str(path), **GEOMETRY)
    ids = open_clip.tokenize(["a photo of a 'Hello'", "a photo of a 'x'"])
    out = memory(ids)
    assert out.shape == (2, 78, 32)
    states = reference.encode(ids)
    assert torch.allclose(out[:, 1:], states, atol=1e-6)          # 77 ln_final states
    eot = states[torch.arange(2), ids.argmax(-1)] @ reference.text.text_projection
    assert torch.allclose(out[:, 0], eot, atol=1e-6)              # projected EOT feature
    assert not out.requires_grad
    assert list(memory.parameters()) == [] and memory.state_dict() == {}
    memory.train()
    assert not memory.clip.training
    with pytest.raises(ValueError, match='one width'):
        FrozenCLIPTextMemory(embed_dim=16, width=32)


def test_text_memory_of_a_short_caption_tower_reads_spelled_prompts():
    """The small CLIP shipped here was trained on 16 tokens of spelled captions: its memory is
    (B, 17, D), and prompts of another length are refused by name."""
    from mmcv.transforms import Compose
    shipped = str(CONFIGS.parent / 'assets' / 'clip' / 'clip_tiny_words.safetensors')
    memory = FrozenCLIPTextMemory(pretrained=shipped, embed_dim=128, width=128, layers=2,
                                  heads=2, text_length=16)
    pack = Compose([dict(type='PackCLIPPrompt', template='{}', caption_style='spelled',
                         context_length=16)])
    ids = torch.stack([pack(dict(instances=[dict(text=t)]))['inputs'] for t in ('Hello', 'hat')])
    out = memory(ids)
    assert out.shape == (2, 17, 128)
    # the spelled prompt reaches the tower's trained rows: the two words' memories differ from
    # the second letter on, and not before it (causal attention)
    assert torch.allclose(out[0, 1:3], out[1, 1:3], atol=1e-5)
    assert not torch.allclose(out[0, 3], out[1, 3], atol=1e-3)
    with pytest.raises(ValueError, match=r'prompts of 77 tokens, but text_length=16; set '
                       r"PackCLIPPrompt's context_length"):
        memory(open_clip.tokenize(['h e l l o']))


def bank_file(tmp_path, n=10, tokens=20, dim=4):
    from safetensors.torch import save_file
    bank = (torch.arange(n)[:, None, None] * 100 + torch.arange(tokens)[None, :, None]
            ).float().expand(n, tokens, dim).contiguous()
    path = str(tmp_path / 'bank.safetensors')
    save_file({'features': bank.half()}, path)
    return path


def test_orp_formula_and_sampling(tmp_path):
    orp = ORPPerturbation(bank_file(tmp_path), weight=0.1, seed=3)
    orp.train()
    out = orp(torch.zeros(6, 8, 4))
    values = (out[..., 0] / 0.1).round().long()    # = image * 100 + token (exact in fp16)
    images, tokens = values // 100, values % 100
    assert len(set(images[:, 0].tolist())) == 6               # B distinct images
    assert (images == images[:, :1]).all()                    # one image per sample
    assert len(set(tokens[0].tolist())) == 8                  # n distinct token positions
    assert (tokens == tokens[:1]).all()                       # shared across the batch
    memory = torch.randn(6, 8, 4)
    noise = orp.sample(6, 8)
    assert noise.shape == (6, 8, 4)
    orp.eval()
    assert torch.equal(orp(memory), memory)                   # training only
    again = ORPPerturbation(bank_file(tmp_path), seed=3)
    again.train()
    assert torch.equal(again(torch.zeros(6, 8, 4)), out)      # seeded
    with pytest.raises(ValueError, match='too small'):
        again(torch.zeros(11, 8, 4))
    with pytest.raises(FileNotFoundError, match='extract_orp_bank'):
        ORPPerturbation(str(tmp_path / 'none.safetensors')).sample(1, 1)


def test_fmu_shapes_and_size():
    fmu = FeatureMergeUnit(embed_dim=512, num_queries=26, num_heads=8)
    assert fmu(torch.randn(2, 128, 512)).shape == (2, 26, 512)
    assert sum(p.numel() for p in fmu.parameters()) == 3_164_672     # 3.15 M + 13 k queries
    assert fmu.queries.numel() == 26 * 512 and 0 < fmu.queries.std() < 0.03


def pretrain_model():
    cfg = load_config(CONFIGS / 'dptr' / 'dptr_pretrain_tiny_synth.py')
    return build_model(cfg.model)


def test_pretraining_checkpoints_hold_the_decoder_only():
    keys = list(pretrain_model().state_dict())
    assert keys and all(k.startswith('decoder.') for k in keys)


def test_pretraining_loss_through_text_memory(tmp_path):
    from mmcv.transforms import Compose
    model = pretrain_model()
    model.encoder.bank_path = bank_file(tmp_path, n=4, tokens=80, dim=128)
    model.train()
    pack = Compose([dict(type='PackCLIPPrompt')])
    items = [pack(dict(instances=[dict(text=t)])) for t in ('Hello', 'World', 'a', 'xyz')]
    assert items[0]['inputs'].shape == (77, )
    assert torch.equal(items[0]['inputs'], open_clip.tokenize(["a photo of a 'Hello'"])[0])
    batch = model.data_preprocessor(dict(inputs=[i['inputs'] for i in items],
                                         data_samples=[i['data_samples'] for i in items]),
                                    True)
    losses = model(batch['inputs'], batch['data_samples'], mode='loss')
    assert torch.isfinite(losses['loss_visual'])
    losses['loss_visual'].backward()
    assert model.decoder.decoder.head.weight.grad is not None


def test_text_memory_in_fp16_as_the_reference_on_gpu(tmp_path):
    """On a GPU the tower is held in fp16 but its LayerNorms (hold_in_fp16, run here on the CPU);
    the memory is the fp16 computation: fp16 under autocast (as OpenOCR's under fp16 autocast;
    bf16 autocast works too), fp32 without."""
    from clip4str_plugin.models.dptr.text_memory import hold_in_fp16
    torch.manual_seed(0)
    reference = CLIPTextEncoder(**GEOMETRY, text_length=77, freeze_nlayer=-1)
    path = tmp_path / 'clip_text.bin'
    torch.save(reference.text.state_dict(), str(path))
    memory = FrozenCLIPTextMemory(pretrained=str(path), **GEOMETRY)
    ids = open_clip.tokenize(["a photo of a 'Hello'"])
    full = memory(ids)
    hold_in_fp16(memory.clip)
    dtypes = {n: p.dtype for n, p in memory.clip.named_parameters()}
    assert dtypes['text.ln_final.weight'] == torch.float32
    assert dtypes['text.token_embedding.weight'] == dtypes['text.text_projection'] == torch.float16
    half = memory(ids)
    assert half.dtype == torch.float32
    assert torch.equal(half[:, 1:], half[:, 1:].half().float())     # rounded to fp16
    assert torch.allclose(half, full, atol=2e-2) and not torch.equal(half, full)
    for dtype, atol in ((torch.float16, 2e-2), (torch.bfloat16, 1e-1)):
        with torch.autocast('cpu', dtype=dtype):
            mixed = memory(ids)
        assert mixed.dtype == torch.float16 and torch.allclose(mixed.float(), half, atol=atol)
