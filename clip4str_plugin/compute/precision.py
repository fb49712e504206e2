"""Reduced-precision inference with the weights cast once, chosen by what the hardware offers.

``torch.autocast`` keeps fp32 weights and casts each one again at every call (on CPU, most of
the bf16 time: docs/benchmarks.md, "Recognition speed"). :func:`set_inference_precision` casts
parameters and buffers once, in place (half the memory), except normalisation layers' and the
data preprocessor's: LayerNorm runs in fp32 on reduced-precision inputs, images are normalised in
fp32. The backbone's input is cast to the weights' dtype (a forward pre-hook) and the decoders
hand fp32 logits to the postprocessor, so the rest of MMOCR sees no difference.

``'auto'`` picks a reduced precision only where it is faster: CUDA (bf16 where supported, else
fp16) and CPUs with AMX or AVX-512 BF16 (bf16); elsewhere (AVX2 CPUs, where bf16 matrix products
are emulated and several times slower than fp32) it stays fp32.
"""
from functools import partial
from typing import Optional

import torch
from torch import nn

from .cpu import cpu_flags
from .kernels import bf16_supported

PRECISIONS = {'fp32': torch.float32, 'bf16': torch.bfloat16, 'fp16': torch.float16}
CHOICES = ('auto', ) + tuple(PRECISIONS)
#: Layers kept in fp32 (public classes; lazy batch norms become these once materialised).
_NORMS = (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d,
          nn.SyncBatchNorm, nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d)


def bf16_is_fast(device: str = 'cpu') -> bool:
    """True where bf16 matrix products run natively (CUDA with bf16, AMX / AVX-512 BF16)."""
    if str(device).startswith('cuda'):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    flags = cpu_flags()
    return (flags['amx_bf16'] or flags['avx512_bf16']) and bf16_supported()


def bf16_reason(device: str = 'cpu') -> str:
    """In a few words, why bf16 is or is not fast on ``device`` (what ``'auto'`` goes by)."""
    if str(device).startswith('cuda'):
        return 'CUDA with bf16' if bf16_is_fast(device) else 'CUDA without bf16: fp16'
    native = [name for name, flag in (('AMX BF16', 'amx_bf16'), ('AVX-512 BF16', 'avx512_bf16'))
              if cpu_flags()[flag]]
    if native and bf16_is_fast('cpu'):
        return f'{" and ".join(native)}: native bf16 matrix products'
    return ('no AMX / AVX-512 BF16 for oneDNN: bf16 matrix products would be emulated, '
            'slower than fp32')


def resolve_precision(precision: str = 'auto', device: str = 'cpu') -> str:
    """``'auto'`` -> the fastest precision of ``device`` (see the module doc); others as given."""
    if precision not in CHOICES:
        raise ValueError(f'precision must be one of {", ".join(CHOICES)}; got {precision!r}')
    if precision != 'auto':
        return precision
    if str(device).startswith('cuda'):
        return 'bf16' if bf16_is_fast(device) else 'fp16'
    return 'bf16' if bf16_is_fast('cpu') else 'fp32'


def _cast_inputs(module: nn.Module, args: tuple, dtype: torch.dtype) -> tuple:
    """Forward pre-hook: floating-point inputs to the weights' ``dtype``."""
    return tuple(a.to(dtype) if torch.is_tensor(a) and a.is_floating_point() else a for a in args)


def set_inference_precision(model: nn.Module, precision: str = 'auto',
                            device: Optional[str] = None) -> str:
    """Cast ``model``'s weights once to ``precision`` and return the precision chosen.

    Normalisation layers and ``model.data_preprocessor`` stay fp32; ``model.backbone`` casts its
    input to ``precision``; 'fp32' casts everything back. ``device``: where it runs (default:
    where its parameters are). For inference: train in fp32 or under autocast.
    """
    if device is None:
        device = str(next(model.parameters()).device)
    chosen = resolve_precision(precision, device)
    preprocessor = getattr(model, 'data_preprocessor', None)
    kept = set(map(id, preprocessor.modules())) if isinstance(preprocessor, nn.Module) else set()
    for module in model.modules():
        if id(module) in kept:
            continue
        target = torch.float32 if isinstance(module, _NORMS) else PRECISIONS[chosen]
        tensors = list(module.parameters(recurse=False)) + list(module.buffers(recurse=False))
        for tensor in tensors:
            if tensor.is_floating_point() and tensor.dtype != target:
                tensor.data = tensor.data.to(target)
    backbone = getattr(model, 'backbone', None)
    if isinstance(backbone, nn.Module):
        handle = getattr(backbone, '_precision_handle', None)
        if handle is not None:
            handle.remove()
        backbone._precision_handle = None if chosen == 'fp32' else \
            backbone.register_forward_pre_hook(partial(_cast_inputs, dtype=PRECISIONS[chosen]))
    return chosen
