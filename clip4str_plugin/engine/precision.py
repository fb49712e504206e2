"""Reduced-precision inference with the weights cast once, chosen by what the hardware offers.

``torch.autocast`` keeps fp32 weights and casts each one again at every call (on CPU, most of
the bf16 time: docs/benchmarks.md, "Recognition speed"). :func:`set_inference_precision` casts parameters
and buffers once, in place (half the memory), except normalisation layers' and the data
preprocessor's: LayerNorm runs in fp32 on reduced-precision inputs, images are normalised in
fp32. The backbone's input is cast to the weights' dtype (a forward pre-hook) and the decoders
hand fp32 logits to the postprocessor, so the rest of MMOCR sees no difference.

``'auto'`` picks a reduced precision only where it is faster: CUDA (bf16 where supported, else
fp16) and CPUs with AMX or AVX-512 BF16 (bf16); elsewhere (AVX2 CPUs, where bf16 matrix products
are emulated and several times slower than fp32) it stays fp32.
"""
import platform
from functools import partial
from typing import Dict, Optional

import torch
from mmengine.hooks import Hook
from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper
from mmocr.registry import HOOKS
from torch import nn

PRECISIONS = {'fp32': torch.float32, 'bf16': torch.bfloat16, 'fp16': torch.float16}
CHOICES = ('auto', ) + tuple(PRECISIONS)
#: CPU flags (as /proc/cpuinfo names them) that decide the precision or explain a benchmark.
CPU_FLAGS = ('avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx_vnni', 'avx512_bf16', 'avx512_fp16',
             'amx_tile', 'amx_bf16', 'amx_int8', 'amx_fp16')
_NORMS = (nn.LayerNorm, nn.GroupNorm, nn.modules.batchnorm._NormBase)


def _cpuinfo_field(name: str) -> Optional[str]:
    """The first ``name`` line's value in /proc/cpuinfo (None off Linux)."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                key, _, value = line.partition(':')
                if key.strip() == name:
                    return value.strip()
    except OSError:
        pass
    return None


def cpu_flags() -> Dict[str, bool]:
    """Which of :data:`CPU_FLAGS` this CPU has (all False where /proc/cpuinfo is absent)."""
    present = set((_cpuinfo_field('flags') or '').split())
    return {flag: flag in present for flag in CPU_FLAGS}


def describe_cpu() -> str:
    """One line: CPU model, PyTorch's kernel level, the flags present, the threads."""
    name = _cpuinfo_field('model name') or platform.processor() or platform.machine()
    present = ' '.join(flag for flag, has in cpu_flags().items() if has) or 'none of interest'
    return (f'{name}; torch kernels {torch.backends.cpu.get_cpu_capability()}; '
            f'flags {present}; {torch.get_num_threads()} threads')


def bf16_is_fast(device: str = 'cpu') -> bool:
    """True where bf16 matrix products run natively (CUDA with bf16, AMX / AVX-512 BF16)."""
    if str(device).startswith('cuda'):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    flags = cpu_flags()
    return (flags['amx_bf16'] or flags['avx512_bf16']) and \
        bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


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


@HOOKS.register_module()
class InferencePrecisionHook(Hook):
    """Casts the model's weights once (:func:`set_inference_precision`) before testing, after
    the checkpoint is loaded: ``custom_hooks=[dict(type='InferencePrecisionHook',
    precision='auto')]`` or ``tools/test.py --precision``. After the test the dtypes are fp32
    again (the values keep their rounding)."""

    priority = 'VERY_LOW'

    def __init__(self, precision: str = 'auto'):
        resolve_precision(precision)   # a wrong name is refused when the config is built
        self.precision = precision

    @staticmethod
    def _model(runner) -> nn.Module:
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def before_test(self, runner) -> None:
        model = self._model(runner)
        chosen = set_inference_precision(model, self.precision)
        why = (f'auto: {bf16_reason(str(next(model.parameters()).device))}'
               if self.precision == 'auto' else f'asked: {self.precision}')
        MMLogger.get_current_instance().info(
            f'inference precision {chosen} ({why}; CPU: {describe_cpu()})')

    def after_test(self, runner) -> None:
        set_inference_precision(self._model(runner), 'fp32')
