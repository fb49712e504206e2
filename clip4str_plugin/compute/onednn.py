"""oneDNN's fp32 GEMMs for CPU inference: the only module that calls private torch ops.

PyTorch's fp32 ``F.linear`` / ``addmm`` on CPU call MKL's SGEMM, which on AMD CPUs runs its AVX2
code even where the CPU has AVX-512: on an AVX-512 EPYC, 1 thread, a 197x768x3072 product ran
at 83 GFLOP/s through MKL and at 188 through oneDNN's ``mkldnn._linear_pointwise``, which picks
its kernels by the ISA. On an AVX2-only EPYC oneDNN was 0.8-0.95x MKL at the towers' shapes
(docs/benchmarks.md, "Recognition speed"). So :func:`fp32_gemm_backend` takes oneDNN under
``CLIP4STR_FASTPATH=auto`` only on AMD with AVX-512, always under ``on``, never under ``off``.
Only eager CPU fp32 inference takes it (oneDNN's op has no backward; autocast, traced, exported
and compiled graphs keep the public ops); results differ from MKL's by summation order only.
"""
from typing import Optional

import torch

from .cpu import cpu_flags, cpu_vendor
from .switch import fastpath


def bf16_supported() -> bool:
    """True where this PyTorch's oneDNN has native bf16 kernels for this CPU."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def fp32_gemm_backend() -> str:
    """'onednn' or 'mkl' (PyTorch's default) for the towers' fp32 inference GEMMs."""
    mode = fastpath()
    if mode == 'off' or not torch.backends.mkldnn.is_available():
        return 'mkl'
    if mode == 'on':
        return 'onednn'
    return 'onednn' if _amd_avx512() else 'mkl'


def _amd_avx512() -> bool:
    """An AMD CPU with AVX-512, where MKL runs its AVX2 code."""
    return cpu_vendor() == 'AuthenticAMD' and cpu_flags()['avx512f']


def takes_onednn(x: torch.Tensor, *weights: torch.Tensor) -> bool:
    """True for eager CPU fp32 inference (no autograd, no autocast; not while tracing,
    exporting to ONNX or compiling) where :func:`fp32_gemm_backend` is oneDNN."""
    return (x.device.type == 'cpu' and x.dtype == torch.float32
            and all(w.dtype == torch.float32 for w in weights)
            and not torch.is_grad_enabled() and not torch.is_autocast_enabled('cpu')
            and not torch.jit.is_tracing() and not torch.onnx.is_in_onnx_export()
            and not torch.compiler.is_compiling()
            and fp32_gemm_backend() == 'onednn')


def linear(x: torch.Tensor, weight: torch.Tensor,
           bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``F.linear(x, weight, bias)`` through oneDNN (only where :func:`takes_onednn`)."""
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, 'none', [], '')


def residual_linear(x: torch.Tensor, h: torch.Tensor, weight: torch.Tensor,
                    bias: Optional[torch.Tensor]) -> torch.Tensor:
    """``x + F.linear(h, weight, bias)`` in one oneDNN call (the sum fused into the GEMM).
    Only where :func:`takes_onednn`; returns a new tensor."""
    return torch.ops.mkldnn._linear_pointwise.binary(h, x, weight, bias, 'add')
