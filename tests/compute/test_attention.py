"""compute/attention: the plain CPU training path computes what the fused kernel computes (outputs
and gradients, every mask kind), and is taken only for bf16 / fp16 CPU attention under autograd,
never with CLIP4STR_FASTPATH=off."""
import pytest
import torch
import torch.nn.functional as F

import clip4str_plugin.compute.attention as sdpa
from clip4str_plugin.compute.attention import attention, takes_plain_path


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
    plain_in = qkv(torch.bfloat16, source=source)
    assert takes_plain_path(*plain_in)
    plain = attention(*plain_in, **args)
    assert plain.dtype == torch.bfloat16 and plain.shape == ref.shape
    torch.testing.assert_close(plain.double(), ref, atol=3e-2, rtol=3e-2)
    for got, want in zip(grads(plain, plain_in), ref_grads):
        torch.testing.assert_close(got, want, atol=6e-2, rtol=6e-2)


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
    monkeypatch.setattr(sdpa.F, 'scaled_dot_product_attention',
                        lambda *a, **kw: calls.append(1) or fused(*a, **kw))
    attention(*qkv(torch.float32))                           # fp32 training
    attention(*qkv(torch.bfloat16, requires_grad=False))     # bf16 without gradients
    with torch.no_grad():
        attention(*qkv(torch.bfloat16))                      # bf16 inference
    assert len(calls) == 3
    attention(*qkv(torch.bfloat16))                          # bf16 training: plain
    assert len(calls) == 3
    monkeypatch.setenv('CLIP4STR_FASTPATH', 'off')
    assert not takes_plain_path(*qkv(torch.bfloat16))
    attention(*qkv(torch.bfloat16))                          # the switch off: fused
    assert len(calls) == 4


def test_dropout_in_the_plain_path_drops_attention_weights():
    q, k, v = qkv(torch.bfloat16)
    torch.manual_seed(0)
    dropped = attention(q, k, v, dropout_p=0.5)
    assert not torch.allclose(dropped.float(), attention(q, k, v).float())
