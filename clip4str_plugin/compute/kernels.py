"""The maths of the CLIP towers and the PARSeq decoders on this hardware: attention and the
forward of open_clip's ``ResidualAttentionBlock`` stack (same parameters, same function).

Plain path (``CLIP4STR_FASTPATH=off``, autocast, mixed dtypes): public API only. open_clip's
``nn.MultiheadAttention`` (``batch_first``) takes PyTorch's native fast path in inference, which
re-lays q/k/v out and materialises every attention matrix on CPU; here q/k/v come out of one
``F.linear`` as strided views straight into ``F.scaled_dot_product_attention``.

Tuned paths (the :class:`~.switch.Plan` of the switch; docs/benchmarks.md, "Recognition speed"):

* QuickGELU ``h * sigmoid(1.702 h)`` is ``silu(1.702 h) / 1.702``: 1.702 goes into the first
  GEMM's ``alpha``/``beta``, ``1 / 1.702`` into the second's; without autograd the residual stream
  is updated in place (the GEMM accumulates into it).
* Eager fp32 CPU inference GEMMs through oneDNN (``mkldnn._linear_pointwise``, residual sums
  fused) where the plan says so: MKL runs its AVX2 code on AMD CPUs with AVX-512 (83 against 188
  GFLOP/s for a 197x768x3072 product, 1 thread). This module is the only one calling private
  torch ops.
* Attention of CPU training as two GEMMs around an fp32 softmax in bf16 / fp16 and for short
  queries in fp32: the fused kernel's backward is several times slower there (bf16: 20-32
  against 4-5 ms at the tiny model's sizes; fp32, 9-18 queries: 2-3x).
"""
import os
from typing import Optional

import torch
import torch.nn.functional as F
from open_clip.transformer import QuickGELU
from torch import nn
from torch.utils.checkpoint import checkpoint

from .switch import ENV, Plan, resolve

QUICK_GELU_ALPHA = 1.702
REDUCED = (torch.bfloat16, torch.float16)
#: fp32 CPU training attention with at most this many queries takes the plain path: the fused
#: kernel's backward costs 2-3x two GEMMs there (the tiny model's text tower and decoders); the
#: image tower's 65 queries stay fused (about even).
PLAIN_FP32_QUERIES = 32


def _plan() -> Plan:
    """The switch's plan: :func:`.switch.current_plan`, read here from the cache that
    :func:`.switch.resolve` fills once per value, so a forward stays within this module."""
    return resolve(os.environ.get(ENV, 'auto'))


# ---------------------------------------------------------------- attention
def takes_plain_path(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> bool:
    """True for CPU attention that autograd will differentiate (tuned plan): in bf16 / fp16,
    and in fp32 for at most :data:`PLAIN_FP32_QUERIES` queries (decoders, the text tower)."""
    return (q.device.type == 'cpu' and torch.is_grad_enabled()
            and (q.dtype in REDUCED or q.shape[-2] <= PLAIN_FP32_QUERIES)
            and (q.requires_grad or k.requires_grad or v.requires_grad) and _plan().tuned)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
              attn_mask: Optional[torch.Tensor] = None, is_causal: bool = False,
              dropout_p: float = 0.0) -> torch.Tensor:
    """``F.scaled_dot_product_attention``'s contract: ``q (N, heads, L, E)`` attends to
    ``k, v (N, heads, S, E)`` -> ``(N, heads, L, E)``. ``attn_mask``: bool (True: may attend) or
    additive, broadcastable to ``(N, heads, L, S)``; ``is_causal``: query i sees keys <= i."""
    if not takes_plain_path(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask,
                                              is_causal=is_causal, dropout_p=dropout_p)
    scores = ((q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)).float()
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


# ---------------------------------------------------------------- oneDNN (private ops)
def bf16_supported() -> bool:
    """True where this PyTorch's oneDNN has native bf16 kernels for this CPU."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def takes_onednn(x: torch.Tensor, *weights: torch.Tensor) -> bool:
    """True for eager CPU fp32 inference (no autograd, no autocast; not while tracing,
    exporting to ONNX or compiling) where the plan takes oneDNN's GEMMs."""
    return (x.device.type == 'cpu' and x.dtype == torch.float32
            and all(w.dtype == torch.float32 for w in weights)
            and not torch.is_grad_enabled() and not torch.is_autocast_enabled('cpu')
            and not torch.jit.is_tracing() and not torch.onnx.is_in_onnx_export()
            and not torch.compiler.is_compiling() and _plan().onednn)


def onednn_linear(x: torch.Tensor, weight: torch.Tensor,
                  bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``F.linear(x, weight, bias)`` through oneDNN (only where :func:`takes_onednn`)."""
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, 'none', [], '')


def onednn_residual_linear(x: torch.Tensor, h: torch.Tensor, weight: torch.Tensor,
                           bias: Optional[torch.Tensor]) -> torch.Tensor:
    """``x + F.linear(h, weight, bias)`` in one oneDNN call; a new tensor."""
    return torch.ops.mkldnn._linear_pointwise.binary(h, x, weight, bias, 'add')


# ---------------------------------------------------------------- transformer blocks
def self_attention(attn: nn.MultiheadAttention, x: torch.Tensor, causal: bool,
                   use_onednn: bool = False) -> torch.Tensor:
    """``(B, L, D) -> (B, L, D)`` heads of ``attn``'s parameters, before ``out_proj``."""
    batch, length, dim = x.shape
    project = onednn_linear if use_onednn else F.linear
    qkv = project(x, attn.in_proj_weight, attn.in_proj_bias)
    q, k, v = qkv.view(batch, length, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)
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
    x = onednn_residual_linear(x, heads, attn.out_proj.weight, attn.out_proj.bias)
    hidden = onednn_linear(block.ln_2(x), mlp.c_fc.weight, mlp.c_fc.bias)
    if isinstance(mlp.gelu, QuickGELU):   # h * sigmoid(c h) = silu(c h) / c, in place
        c = QUICK_GELU_ALPHA
        hidden = F.silu(hidden.mul_(c), inplace=True).mul_(1.0 / c)
    else:
        hidden = mlp.gelu(hidden)
    return onednn_residual_linear(x, hidden, mlp.c_proj.weight, mlp.c_proj.bias)


def block_forward(block: nn.Module, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
    """One open_clip ``ResidualAttentionBlock`` (pre-LN, no layer scale): ``(B, L, D)`` in and out.

    ``causal``: the text tower's mask (token i sees tokens <= i). Without autograd the tuned
    block updates ``x`` in place: pass a tensor the caller no longer needs.
    """
    if not (isinstance(block.ls_1, nn.Identity) and isinstance(block.ls_2, nn.Identity)):
        raise NotImplementedError('layer scale is not supported by the fused block forward')
    attn, mlp = block.attn, block.mlp
    fc, proj = mlp.c_fc, mlp.c_proj
    weights = (attn.in_proj_weight, fc.weight, proj.weight)
    # the tuned block re-formulates exactly only without autocast and with one dtype
    if (not _plan().tuned or torch.is_autocast_enabled(x.device.type)
            or any(w.dtype != x.dtype for w in weights)):
        x = x + attn.out_proj(self_attention(attn, block.ln_1(x), causal))
        return x + proj(mlp.gelu(fc(block.ln_2(x))))
    if takes_onednn(x, *weights):
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


def compiled_blocks(option=False):
    """:func:`transformer_forward`, or its ``torch.compile`` version when ``option`` is True or a
    dict of ``torch.compile`` keyword arguments."""
    if option is False:
        return transformer_forward
    if option is not True and not isinstance(option, dict):
        raise ValueError(f'compile must be False, True or a dict of torch.compile arguments, '
                         f'got {option!r}')
    return torch.compile(transformer_forward, **(option if isinstance(option, dict) else {}))
