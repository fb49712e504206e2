"""The forward of open_clip's ``ResidualAttentionBlock`` stack: same parameters, same maths.

open_clip builds its blocks' ``nn.MultiheadAttention`` with ``batch_first=True``; in inference
that takes PyTorch's native fast path (``_native_multi_head_attention``), which on CPU re-lays
q/k/v out in an extra pass and materialises every attention matrix instead of reaching the fused
``F.scaled_dot_product_attention`` kernel. Here q/k/v come out of one ``F.linear`` as strided
views, straight into SDPA, whose output is already ``(B, L, heads, head_dim)``: merging the heads
is free. That is the plain, public-API block (``CLIP4STR_FASTPATH=off``, autocast, mixed
dtypes). The tuned block (``auto`` / ``on``; docs/benchmarks.md, "Recognition speed"):

* QuickGELU ``h * sigmoid(1.702 h)`` is ``silu(1.702 h) / 1.702``: 1.702 goes into the first
  GEMM's ``alpha``/``beta``, ``1 / 1.702`` into the second's ``alpha``, one elementwise pass left.
* Without autograd, the residual stream is updated in place (the GEMM accumulates into it).
* In fp32 CPU inference the GEMMs go through oneDNN where :mod:`.onednn` takes it, the residual
  sums fused into them.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from open_clip.transformer import QuickGELU
from torch import nn
from torch.utils.checkpoint import checkpoint

from . import onednn
from .attention import attention
from .switch import fastpath

QUICK_GELU_ALPHA = 1.702


def _fusable(x: torch.Tensor, *tensors: Optional[torch.Tensor]) -> bool:
    """True when the switch allows it, no autocast is active and every tensor has ``x``'s
    dtype (the fused GEMMs and in-place updates are then exact re-formulations)."""
    if fastpath() == 'off' or torch.is_autocast_enabled(x.device.type):
        return False
    return all(t is None or t.dtype == x.dtype for t in tensors)


def self_attention(attn: nn.MultiheadAttention, x: torch.Tensor, causal: bool,
                   use_onednn: bool = False) -> torch.Tensor:
    """``(B, L, D) -> (B, L, D)`` heads of ``attn``'s parameters, before ``out_proj``."""
    batch, length, dim = x.shape
    heads = attn.num_heads
    project = onednn.linear if use_onednn else F.linear
    qkv = project(x, attn.in_proj_weight, attn.in_proj_bias)
    q, k, v = qkv.view(batch, length, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)
    out = attention(q, k, v, is_causal=causal, dropout_p=attn.dropout if attn.training else 0.0)
    return out.transpose(1, 2).reshape(batch, length, dim)


def _add_linear(x: torch.Tensor, h: torch.Tensor, linear: nn.Linear, alpha: float,
                inplace: bool) -> torch.Tensor:
    """``x + linear(alpha * h)`` as one GEMM accumulating into the residual stream ``x``."""
    x2, h2 = x.view(-1, x.shape[-1]), h.reshape(-1, h.shape[-1])
    if inplace:
        out = x2.addmm_(h2, linear.weight.t(), alpha=alpha)
    else:
        out = torch.addmm(x2, h2, linear.weight.t(), alpha=alpha)
    return out.add_(linear.bias).view_as(x)


def _onednn_block(block: nn.Module, x: torch.Tensor, causal: bool) -> torch.Tensor:
    """The tuned block with oneDNN GEMMs, the residual sums fused into them."""
    attn, mlp = block.attn, block.mlp
    heads = self_attention(attn, block.ln_1(x), causal, use_onednn=True)
    x = onednn.residual_linear(x, heads, attn.out_proj.weight, attn.out_proj.bias)
    hidden = onednn.linear(block.ln_2(x), mlp.c_fc.weight, mlp.c_fc.bias)
    if isinstance(mlp.gelu, QuickGELU):   # h * sigmoid(c h) = silu(c h) / c, in place
        c = QUICK_GELU_ALPHA
        hidden = F.silu(hidden.mul_(c), inplace=True).mul_(1.0 / c)
    else:
        hidden = mlp.gelu(hidden)
    return onednn.residual_linear(x, hidden, mlp.c_proj.weight, mlp.c_proj.bias)


def block_forward(block: nn.Module, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
    """One open_clip ``ResidualAttentionBlock`` (pre-LN, no layer scale): ``(B, L, D)`` in and out.

    ``causal``: the text tower's mask (token i sees tokens <= i). Without autograd the tuned
    block updates ``x`` in place: pass a tensor the caller no longer needs.
    """
    if not (isinstance(block.ls_1, nn.Identity) and isinstance(block.ls_2, nn.Identity)):
        raise NotImplementedError('layer scale is not supported by the fused block forward')
    attn, mlp = block.attn, block.mlp
    fc, proj = mlp.c_fc, mlp.c_proj
    if not _fusable(x, attn.in_proj_weight, fc.weight, proj.weight):
        x = x + attn.out_proj(self_attention(attn, block.ln_1(x), causal))
        return x + proj(mlp.gelu(fc(block.ln_2(x))))
    if onednn.takes_onednn(x, attn.in_proj_weight, fc.weight, proj.weight):
        return _onednn_block(block, x, causal)
    inplace = not torch.is_grad_enabled()
    x = _add_linear(x, self_attention(attn, block.ln_1(x), causal), attn.out_proj, 1.0, inplace)
    y = block.ln_2(x)
    if isinstance(mlp.gelu, QuickGELU):
        c = QUICK_GELU_ALPHA
        hidden = torch.addmm(fc.bias, y.view(-1, y.shape[-1]), fc.weight.t(), beta=c, alpha=c)
        return _add_linear(x, F.silu(hidden, inplace=inplace), proj, 1.0 / c, inplace)
    return _add_linear(x, mlp.gelu(fc(y)), proj, 1.0, inplace)


def transformer_forward(transformer: nn.Module, x: torch.Tensor,
                        causal: bool = False) -> torch.Tensor:
    """open_clip ``Transformer.forward`` (batch first, ``(B, L, D)``) through
    :func:`block_forward`; with its ``grad_checkpointing`` flag set, each block's activations
    are recomputed in the backward pass instead of kept (non-reentrant checkpointing)."""
    if not getattr(transformer, 'batch_first', True):
        raise NotImplementedError('the fused forward expects a batch-first open_clip Transformer')
    recompute = getattr(transformer, 'grad_checkpointing', False) and torch.is_grad_enabled()
    for block in transformer.resblocks:
        if recompute:
            x = checkpoint(block_forward, block, x, causal, use_reentrant=False)
        else:
            x = block_forward(block, x, causal)
    return x
