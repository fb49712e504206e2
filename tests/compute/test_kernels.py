"""compute/kernels: attention's plain CPU training path computes what the fused kernel computes
and is taken only for CPU attention under autograd in bf16 / fp16 or with few fp32 queries; the
block forward computes what open_clip's modules compute (plain, tuned through MKL and through
oneDNN: values, gradients, autocast dtypes, the towers built on it); oneDNN's products equal
F.linear's and are taken only in eager fp32 CPU inference; never a tuned path with
CLIP4STR_FASTPATH=off."""
import pytest
import torch
import torch.nn.functional as F
from open_clip.transformer import LayerNormFp32, QuickGELU, Transformer
from torch import nn

import clip4str_plugin.compute.kernels as kernels
from clip4str_plugin.compute import switch
from clip4str_plugin.compute.kernels import attention, takes_plain_path, transformer_forward
from clip4str_plugin.models.clip.towers import CLIPTextEncoder, CLIPVisionBackbone


@pytest.fixture(autouse=True)
def fresh_plans():
    """Plans are decided once per process; a test that fakes the CPU decides them again."""
    switch.resolve.cache_clear()
    yield
    switch.resolve.cache_clear()


# ---------------------------------------------------------------- attention
def qkv(dtype, length=7, source=9, requires_grad=True):
    gen = torch.Generator().manual_seed(0)
    shapes = [(3, 2, length, 8), (3, 2, source, 8), (3, 2, source, 8)]
    return [torch.randn(s, generator=gen).to(dtype).requires_grad_(requires_grad)
            for s in shapes]


def grads(out, tensors):
    out.float().square().sum().backward()
    return [t.grad.double() for t in tensors]


MASK = torch.rand(7, 9, generator=torch.Generator().manual_seed(1)) > 0.3
MASK[:, 0] = True    # every query may attend somewhere


def reference(q, k, v, attn_mask=None, is_causal=False):
    """softmax(q k^T / sqrt(E) + mask) v written out in the inputs' dtype (float64 here); a
    float mask is cast to that dtype, so no kernel's mixed-dtype handling enters the reference."""
    scores = q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5
    if is_causal:
        scores = scores.masked_fill(torch.ones(scores.shape[-2:], dtype=torch.bool).triu(1),
                                    float('-inf'))
    if attn_mask is not None:
        scores = (scores.masked_fill(~attn_mask, float('-inf'))
                  if attn_mask.dtype == torch.bool else scores + attn_mask.to(scores.dtype))
    return scores.softmax(-1) @ v


@pytest.mark.parametrize('kind', ['none', 'bool', 'additive', 'causal'])
def test_plain_path_matches_the_fused_kernel(kind):
    source = 7 if kind == 'causal' else 9
    args = dict(none={}, bool=dict(attn_mask=MASK), causal=dict(is_causal=True),
                additive=dict(attn_mask=torch.zeros(7, 9).masked_fill(~MASK, -1e4)))[kind]
    ref_in = qkv(torch.float64, source=source)
    ref = reference(*ref_in, **args)
    ref_grads = grads(ref, ref_in)
    fused_in = qkv(torch.float32, source=source, requires_grad=False)
    fused = F.scaled_dot_product_attention(*fused_in, **args)    # the mask matches its dtype
    torch.testing.assert_close(fused.double(), ref, atol=1e-5, rtol=1e-5)
    for dtype, tol in ((torch.bfloat16, 3e-2), (torch.float32, 1e-5)):
        plain_in = qkv(dtype, source=source)
        assert takes_plain_path(*plain_in)
        plain = attention(*plain_in, **args)
        assert plain.dtype == dtype and plain.shape == ref.shape
        torch.testing.assert_close(plain.double(), ref, atol=tol, rtol=tol)
        for got, want in zip(grads(plain, plain_in), ref_grads):
            torch.testing.assert_close(got, want, atol=2 * tol, rtol=2 * tol)


def test_plain_path_under_autocast_keeps_the_kernels_dtypes():
    q, k, v = qkv(torch.float32)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = attention(q.bfloat16(), k.bfloat16(), v.bfloat16(), attn_mask=MASK)
    assert out.dtype == torch.bfloat16
    out.float().sum().backward()
    assert q.grad is not None and torch.isfinite(q.grad).all()


def test_fused_kernel_everywhere_else(monkeypatch):
    calls = []
    fused = F.scaled_dot_product_attention
    monkeypatch.setattr(kernels.F, 'scaled_dot_product_attention',
                        lambda *a, **kw: calls.append(1) or fused(*a, **kw))
    long = kernels.PLAIN_FP32_QUERIES + 1
    attention(*qkv(torch.float32, length=long, source=long))  # fp32 training, many queries
    attention(*qkv(torch.bfloat16, requires_grad=False))     # bf16 without gradients
    with torch.no_grad():
        attention(*qkv(torch.bfloat16))                      # bf16 inference
        attention(*qkv(torch.float32))                       # fp32 inference
    assert len(calls) == 4
    attention(*qkv(torch.bfloat16))                          # bf16 training: plain
    attention(*qkv(torch.float32))                           # fp32 training, 7 queries: plain
    assert len(calls) == 4
    monkeypatch.setenv('CLIP4STR_FASTPATH', 'off')
    assert not takes_plain_path(*qkv(torch.bfloat16))
    assert not takes_plain_path(*qkv(torch.float32))
    attention(*qkv(torch.bfloat16))                          # the switch off: fused
    assert len(calls) == 5


def test_dropout_in_the_plain_path_drops_attention_weights():
    q, k, v = qkv(torch.bfloat16)
    torch.manual_seed(0)
    dropped = attention(q, k, v, dropout_p=0.5)
    assert not torch.allclose(dropped.float(), attention(q, k, v).float())


# ---------------------------------------------------------------- transformer blocks
def stack(act=QuickGELU):
    torch.manual_seed(0)
    return Transformer(64, 3, 4, act_layer=act, norm_layer=LayerNormFp32).eval()


def causal_mask(n):
    return torch.full((n, n), float('-inf')).triu(1)


def use(mode, monkeypatch):
    """CLIP4STR_FASTPATH ``off``, ``auto`` with MKL's GEMMs (no AMD AVX-512) or ``on``."""
    monkeypatch.setenv('CLIP4STR_FASTPATH', dict(plain='off', mkl='auto', onednn='on')[mode])
    monkeypatch.setattr(switch, '_amd_avx512', lambda: False)


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
    monkeypatch.setattr(kernels, 'checkpoint',
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


# ---------------------------------------------------------------- oneDNN
def test_onednn_products_equal_f_linear(monkeypatch):
    monkeypatch.setenv('CLIP4STR_FASTPATH', 'on')
    torch.manual_seed(0)
    x, h = torch.randn(2, 65, 128), torch.randn(2, 65, 512)
    w, b = torch.randn(128, 512) / 20, torch.randn(128)
    with torch.no_grad():
        assert kernels.takes_onednn(x, w)
        torch.testing.assert_close(kernels.onednn_linear(h, w, b), F.linear(h, w, b))
        torch.testing.assert_close(kernels.onednn_residual_linear(x, h, w, b),
                                   x + F.linear(h, w, b))
    # never with autograd, autocast or another dtype
    assert not kernels.takes_onednn(x, w)
    with torch.no_grad():
        assert not kernels.takes_onednn(x.bfloat16(), w.bfloat16())
        with torch.autocast('cpu', dtype=torch.bfloat16):
            assert not kernels.takes_onednn(x, w)
    monkeypatch.setenv('CLIP4STR_FASTPATH', 'off')
    with torch.no_grad():
        assert not kernels.takes_onednn(x, w)


def test_traced_graphs_keep_the_public_ops(monkeypatch):
    """ONNX export traces the towers: the graph must hold aten::linear, not oneDNN's op."""
    monkeypatch.setenv('CLIP4STR_FASTPATH', 'on')
    model = Transformer(16, 1, 2).eval().requires_grad_(False)
    with torch.no_grad():
        traced = torch.jit.trace(lambda x: transformer_forward(model, x), torch.randn(2, 5, 16))
    graph = str(traced.graph)
    assert 'mkldnn' not in graph and ('aten::linear' in graph or 'aten::addmm' in graph)
