"""compute/blocks: the block forward computes what open_clip's own modules compute: values (plain
public API, tuned through MKL and through oneDNN), gradients, autocast dtypes, and the towers
built on it."""
import pytest
import torch
from open_clip.transformer import LayerNormFp32, QuickGELU, Transformer
from torch import nn

from clip4str_plugin.compute.blocks import transformer_forward
from clip4str_plugin.models.clip.towers import CLIPTextEncoder, CLIPVisionBackbone


def stack(act=QuickGELU):
    torch.manual_seed(0)
    return Transformer(64, 3, 4, act_layer=act, norm_layer=LayerNormFp32).eval()


def causal_mask(n):
    return torch.full((n, n), float('-inf')).triu(1)


def use(mode, monkeypatch):
    """CLIP4STR_FASTPATH ``off``, ``auto`` with MKL's GEMMs (no AMD AVX-512) or ``on`` (oneDNN's)."""
    monkeypatch.setenv('CLIP4STR_FASTPATH', dict(plain='off', mkl='auto', onednn='on')[mode])
    monkeypatch.setattr('clip4str_plugin.compute.onednn._amd_avx512', lambda: False)


@pytest.mark.parametrize('mode', ['plain', 'mkl', 'onednn'])
@pytest.mark.parametrize('act', [QuickGELU, nn.GELU])
@pytest.mark.parametrize('causal', [False, True])
def test_matches_open_clip_without_grad(act, causal, mode, monkeypatch):
    use(mode, monkeypatch)
    model = stack(act)
    x = torch.randn(3, 17, 64)
    with torch.inference_mode():
        ref = model(x, attn_mask=causal_mask(17) if causal else None)  # MHA fast path
        x_copy = x.clone()
        out = transformer_forward(model, x_copy, causal=causal)
    assert (out - ref).abs().max() < 2e-5
    # tuned with MKL: the residual stream is updated in place; oneDNN: the sums are fused into
    # its GEMMs; plain: new tensors
    assert (out.data_ptr() == x_copy.data_ptr()) == (mode == 'mkl')


@pytest.mark.parametrize('mode', ['plain', 'mkl'])
def test_gradients_match_open_clip(mode, monkeypatch):
    use(mode, monkeypatch)
    model = stack()
    x = torch.randn(2, 9, 64, requires_grad=True)
    ref = model(x)
    ref.square().sum().backward()
    ref_grads = [p.grad.clone() for p in model.parameters()] + [x.grad.clone()]
    model.zero_grad()
    x.grad = None
    out = transformer_forward(model, x)
    assert (out - ref).abs().max() < 2e-5
    out.square().sum().backward()
    grads = [p.grad for p in model.parameters()] + [x.grad]
    assert len(grads) == len(ref_grads)
    for a, b in zip(grads, ref_grads):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_autocast_keeps_open_clip_dtypes():
    model = stack()
    x = torch.randn(2, 9, 64)
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        ref = model(x)
        out = transformer_forward(model, x.clone())
    assert out.dtype == ref.dtype
    assert (out.float() - ref.float()).abs().max() < 0.05


def test_towers_match_open_clip_modules():
    torch.manual_seed(0)
    vision = CLIPVisionBackbone(32, image_size=32, patch_size=8, width=64, layers=2).eval()
    text = CLIPTextEncoder(32, width=64, layers=2, heads=2).eval()
    images, ids = torch.randn(2, 3, 32, 32), torch.randint(1, 1000, (3, 16))
    with torch.no_grad():
        vit = vision.visual
        x = vit.conv1(images).flatten(2).transpose(1, 2)
        x = torch.cat([vit.class_embedding.expand(2, 1, -1), x], 1) + vit.positional_embedding
        ref = vit.ln_post(vit.transformer(vit.ln_pre(x))) @ vit.proj
        assert (vision(images) - ref).abs().max() < 2e-5
        t = text.text
        y = t.token_embedding(ids) + t.positional_embedding[:16]
        ref = t.ln_final(t.transformer(y, attn_mask=t.attn_mask[:16, :16])) @ t.text_projection
        assert (text(ids) - ref).abs().max() < 2e-5


def test_towers_grad_checkpointing_gives_the_same_gradients(monkeypatch):
    import clip4str_plugin.compute.blocks as blocks

    def grads(flag):
        torch.manual_seed(0)
        vision = CLIPVisionBackbone(32, image_size=32, patch_size=8, width=64, layers=2,
                                    grad_checkpointing=flag)
        text = CLIPTextEncoder(32, width=64, layers=2, heads=2, freeze_nlayer=1,
                               grad_checkpointing=flag)
        assert vision.visual.transformer.grad_checkpointing is flag
        assert text.text.transformer.grad_checkpointing is flag
        torch.manual_seed(1)
        images, ids = torch.randn(2, 3, 32, 32), torch.randint(1, 1000, (2, 16))
        (vision(images).square().sum() + text(ids).square().sum()).backward()
        return [p.grad for m in (vision, text) for p in m.parameters() if p.requires_grad]

    calls = []
    monkeypatch.setattr(blocks, 'checkpoint',
                        lambda *a, **k: calls.append(k) or torch.utils.checkpoint.checkpoint(
                            *a, **k))
    plain = grads(False)
    assert calls == []
    for a, b in zip(grads(True), plain, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert calls == [dict(use_reentrant=False)] * 4     # 2 blocks per tower


def test_compile_option_runs_the_blocks_through_torch_compile():
    import torch._dynamo
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    torch.manual_seed(0)
    plain = CLIPVisionBackbone(32, image_size=32, patch_size=8, width=64, layers=1).eval()
    compiled = CLIPVisionBackbone(32, image_size=32, patch_size=8, width=64, layers=1,
                                  compile=dict(backend='eager', dynamic=False)).eval()
    compiled.load_state_dict(plain.state_dict())
    assert plain._blocks is transformer_forward and compiled._blocks is not transformer_forward
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert (compiled(images) - plain(images)).abs().max() < 1e-5
    assert torch._dynamo.utils.counters['stats']['unique_graphs'] >= 1   # dynamo traced them
    with pytest.raises(ValueError, match="compile must be False, True or a dict of "
                                         "torch.compile arguments, got 'max-autotune'"):
        CLIPVisionBackbone(32, image_size=32, patch_size=8, width=64, layers=1,
                           compile='max-autotune')
