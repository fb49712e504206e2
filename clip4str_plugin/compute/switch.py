"""The one switch between PyTorch's public-API maths and the tuned paths: ``CLIP4STR_FASTPATH``.

* ``auto`` (the default): the tuned paths that measurements showed paying on this CPU class
  (docs/benchmarks.md, "Recognition speed"): the fused block forward everywhere, the plain
  attention of bf16 / fp16 CPU training everywhere, oneDNN's fp32 GEMMs only on AMD CPUs with
  AVX-512 (where MKL runs its AVX2 code; on an AVX2-only EPYC oneDNN was 0.8-0.95x MKL).
* ``off``: the public API only (``F.linear``, ``F.scaled_dot_product_attention``, open_clip's
  MLP modules); the reference to compare the tuned paths against.
* ``on``: every tuned path, oneDNN's GEMMs included, on any CPU: to measure them on a new class.

:func:`resolve` turns a value into a :class:`Plan` once per process (and logs it); the kernels
of :mod:`.kernels` read the plan of the current value at each call. Under autocast, tracing,
ONNX export and ``torch.compile`` the public API runs whatever the switch says.
"""
import functools
import os
from typing import NamedTuple

import torch
from mmengine.logging import print_log

from .cpu import cpu_flags, cpu_vendor

ENV = 'CLIP4STR_FASTPATH'
CHOICES = ('auto', 'off', 'on')
MEANING = dict(auto='tuned paths where measured to pay on this CPU class',
               off='public PyTorch API only', on='every tuned path')


class FastpathSwitchError(ValueError):
    """``CLIP4STR_FASTPATH`` names none of :data:`CHOICES`."""


class Plan(NamedTuple):
    """What runs on this CPU under one value of the switch."""
    mode: str      #: 'auto', 'off' or 'on'
    tuned: bool    #: fused block forward, plain attention in bf16 / fp16 CPU training
    onednn: bool   #: eager fp32 CPU inference GEMMs through oneDNN instead of MKL


def _amd_avx512() -> bool:
    """An AMD CPU with AVX-512, where MKL runs its AVX2 code."""
    return cpu_vendor() == 'AuthenticAMD' and cpu_flags()['avx512f']


@functools.lru_cache(maxsize=None)
def resolve(value: str) -> Plan:
    """The :class:`Plan` of a switch value (any case), decided and logged once per process."""
    mode = value.lower()
    if mode not in CHOICES:
        raise FastpathSwitchError(f'{ENV} must be one of {", ".join(CHOICES)}; got {value!r}')
    onednn = torch.backends.mkldnn.is_available() and (
        mode == 'on' or (mode == 'auto' and _amd_avx512()))
    plan = Plan(mode, mode != 'off', onednn)
    print_log(f'{ENV}={mode}: {MEANING[mode]}' + (' (oneDNN fp32 GEMMs)' if onednn else ''),
              logger='current')
    return plan


def current_plan() -> Plan:
    """The plan of the switch as the environment sets it now (``auto`` when unset)."""
    return resolve(os.environ.get(ENV, 'auto'))


def fp32_gemm_backend() -> str:
    """'onednn' or 'mkl' (PyTorch's default) for the towers' fp32 inference GEMMs."""
    return 'onednn' if current_plan().onednn else 'mkl'
