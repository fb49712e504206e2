"""Scaled dot-product attention for the towers and decoders, with a faster CPU training path.

PyTorch's fused CPU kernel (``F.scaled_dot_product_attention``, flash attention for CPU) is the
fastest choice in inference, but its backward in bf16 / fp16 is several times slower than the
plain formulation (two batched GEMMs around an fp32 softmax): at the tiny CLIP4STR's sizes (batch
64, 2-4 heads, 27-81 tokens) forward + backward take 20-32 ms fused against 4-5 ms plain, 1
thread, and fused attention was half of the bf16 training step; at ViT-B sizes (12 heads, 197
tokens) 66 against 30 ms (docs/benchmarks.md, "The tiny model's training step"). In fp32 the
fused backward is as fast or faster, so :func:`attention` takes the plain path only for CPU
tensors in bf16 / fp16 that autograd will differentiate, and only when ``CLIP4STR_FASTPATH`` is
not ``off``; everything else goes to the fused kernel. Both compute the same function; they
differ in rounding.
"""
from typing import Optional

import torch
import torch.nn.functional as F

from .switch import fastpath

REDUCED = (torch.bfloat16, torch.float16)


def takes_plain_path(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> bool:
    """True for CPU bf16 / fp16 attention that autograd will differentiate (switch not off)."""
    return (q.device.type == 'cpu' and q.dtype in REDUCED and torch.is_grad_enabled()
            and (q.requires_grad or k.requires_grad or v.requires_grad)
            and fastpath() != 'off')


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
              attn_mask: Optional[torch.Tensor] = None, is_causal: bool = False,
              dropout_p: float = 0.0) -> torch.Tensor:
    """``F.scaled_dot_product_attention``'s contract: ``q (N, heads, L, E)`` attends to
    ``k, v (N, heads, S, E)`` -> ``(N, heads, L, E)``. ``attn_mask``: bool (True: may attend) or
    additive, broadcastable to ``(N, heads, L, S)``; ``is_causal``: query i sees keys <= i."""
    if not takes_plain_path(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask,
                                              is_causal=is_causal, dropout_p=dropout_p)
    scores = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)
    scores = scores.float()
    if is_causal:
        length, source = scores.shape[-2:]
        scores = scores.masked_fill(
            torch.ones(length, source, dtype=torch.bool, device=q.device).triu(1),
            float('-inf'))
    if attn_mask is not None:
        scores = (scores.masked_fill(~attn_mask, float('-inf'))
                  if attn_mask.dtype == torch.bool else scores + attn_mask)
    probs = F.dropout(scores.softmax(-1), dropout_p) if dropout_p else scores.softmax(-1)
    return probs.to(v.dtype) @ v
