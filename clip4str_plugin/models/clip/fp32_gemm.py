"""fp32 inference GEMMs of the CLIP towers through oneDNN where that beats PyTorch's default.

PyTorch's fp32 ``linear`` / ``addmm`` on CPU call MKL's SGEMM, which on AMD CPUs runs its AVX2
code even where the CPU has AVX-512: on an AVX-512 EPYC, 1 thread, a 197x768x3072 product runs
at 83 GFLOP/s through MKL and at 188 through oneDNN's ``mkldnn._linear_pointwise``, which picks
its kernels by the ISA (docs/benchmarks.md, "Recognition speed"). :func:`fp32_gemm_backend` chooses once
per process: ``CLIP4STR_FP32_GEMM=mkl|onednn``, or (``auto``, the default) oneDNN only where
a short timing of a tower-sized product finds it at least 1.1x faster. Only CPU fp32 inference
takes it (no autograd: oneDNN's op has no backward; no autocast; traced, exported and compiled
graphs keep the standard ops); the results differ from MKL's by summation order only (about
1e-6 relative).
"""
import os
import time
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import print_log

ENV = 'CLIP4STR_FP32_GEMM'
CHOICES = ('auto', 'mkl', 'onednn')
_chosen: Optional[str] = None
timer = time.perf_counter     # the probe's clock (tests replace it)


def _onednn_linear(x: torch.Tensor, weight: torch.Tensor,
                   bias: Optional[torch.Tensor]) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, 'none', [], '')


def _probe(repeats: int = 3) -> Tuple[str, str]:
    """('onednn' if it runs a (197 x 768) @ (768 x 3072) product >= 1.1x faster than MKL, else
    'mkl'; the timings behind it)."""
    generator = torch.Generator().manual_seed(0)   # the global random state stays untouched
    x, w = torch.randn(197, 768, generator=generator), torch.randn(3072, 768, generator=generator)

    def best(fn):
        fn(x, w, None)
        times = []
        for _ in range(repeats):
            start = timer()
            fn(x, w, None)
            times.append(timer() - start)
        return min(times)

    with torch.no_grad():
        mkl, onednn = best(F.linear), best(_onednn_linear)
    chosen = 'onednn' if mkl >= 1.1 * onednn else 'mkl'
    return chosen, (f'{ENV}=auto: a 197x768x3072 product took {mkl * 1e3:.2f} ms through MKL, '
                    f'{onednn * 1e3:.2f} ms through oneDNN; oneDNN is taken from 1.1x faster')


def fp32_gemm_backend() -> str:
    """'onednn' or 'mkl' (PyTorch's default), chosen once per process (see the module doc) and
    logged with the reason."""
    global _chosen
    if _chosen is None:
        asked = os.environ.get(ENV, 'auto').lower()
        if asked not in CHOICES:
            raise ValueError(f'{ENV} must be one of {", ".join(CHOICES)}; got {asked!r}')
        if not torch.backends.mkldnn.is_available():
            chosen, why = 'mkl', 'this PyTorch has no oneDNN'
        elif asked == 'auto':
            chosen, why = _probe()
        else:
            chosen, why = asked, f'{ENV}={asked}'
        print_log(f'fp32 GEMMs of the CLIP towers in inference: {chosen} ({why})',
                  logger='current')
        _chosen = chosen
    return _chosen


def takes_onednn(x: torch.Tensor, *weights: torch.Tensor) -> bool:
    """True for eager CPU fp32 inference (no autograd, no autocast; not while tracing,
    exporting to ONNX or compiling) where oneDNN was chosen."""
    return (x.device.type == 'cpu' and x.dtype == torch.float32
            and all(w.dtype == torch.float32 for w in weights)
            and not torch.is_grad_enabled() and not torch.is_autocast_enabled('cpu')
            and not torch.jit.is_tracing() and not torch.onnx.is_in_onnx_export()
            and not torch.compiler.is_compiling()
            and fp32_gemm_backend() == 'onednn')


def linear(x: torch.Tensor, weight: torch.Tensor,
           bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``F.linear``, through oneDNN where :func:`takes_onednn`."""
    return _onednn_linear(x, weight, bias) if takes_onednn(x, weight) else \
        F.linear(x, weight, bias)


def residual_linear(x: torch.Tensor, h: torch.Tensor, weight: torch.Tensor,
                    bias: Optional[torch.Tensor]) -> torch.Tensor:
    """``x + F.linear(h, weight, bias)`` in one oneDNN call (the sum fused into the GEMM).
    Only where :func:`takes_onednn`; returns a new tensor."""
    return torch.ops.mkldnn._linear_pointwise.binary(h, x, weight, bias, 'add')
