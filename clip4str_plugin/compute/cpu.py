"""What this CPU offers, read from /proc/cpuinfo: the flags and vendor that choose precisions
and GEMM libraries, and a one-line description for logs and benchmark reports.

oneDNN runs the bf16 and tuned fp32 matrix products; ``ONEDNN_MAX_CPU_ISA`` (or
``DNNL_MAX_CPU_ISA``) caps the instructions it may use, so the flags above that cap count as
absent: ``ONEDNN_MAX_CPU_ISA=AVX2`` makes the choices of an AVX2-only CPU (and, with
``ATEN_CPU_CAPABILITY=avx2`` for PyTorch's own kernels, runs that class's code paths on an
AVX-512 machine).
"""
import functools
import os
import platform
from typing import Dict, Optional

import torch

#: CPU flags (as /proc/cpuinfo names them) that decide the precision or explain a benchmark.
CPU_FLAGS = ('avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx_vnni', 'avx512_bf16', 'avx512_fp16',
             'amx_tile', 'amx_bf16', 'amx_int8', 'amx_fp16')
#: The least ``ONEDNN_MAX_CPU_ISA`` level that lets oneDNN use each flag's instructions.
_FLAG_LEVEL = dict(avx2=1, fma=1, avx_vnni=1, avx512f=2, avx512_vnni=3, avx512_bf16=4,
                   avx512_fp16=5, amx_tile=6, amx_bf16=6, amx_int8=6, amx_fp16=7)
#: oneDNN's ISA names (its ``ONEDNN_MAX_CPU_ISA`` values) and their levels; ``ALL``: no cap.
_ONEDNN_LEVEL = dict(SSE41=0, AVX=0, AVX2=1, AVX2_VNNI=1, AVX2_VNNI_2=1, AVX512_CORE=2,
                     AVX512_CORE_VNNI=3, AVX512_CORE_BF16=4, AVX512_CORE_FP16=5, AVX10_1_512=5,
                     AVX512_CORE_AMX=6, AVX10_1_512_AMX=6, AVX512_CORE_AMX_FP16=7,
                     AVX10_1_512_AMX_FP16=7)


@functools.lru_cache(maxsize=None)
def _cpuinfo() -> Dict[str, str]:
    """The first processor's fields in /proc/cpuinfo, read once ({} off Linux)."""
    fields = {}
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if not line.strip():
                    break                              # the end of the first processor
                key, _, value = line.partition(':')
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def _cpuinfo_field(name: str) -> Optional[str]:
    """The first processor's ``name`` field in /proc/cpuinfo (None off Linux)."""
    return _cpuinfo().get(name)


def onednn_isa_cap() -> Optional[str]:
    """The ISA that ``ONEDNN_MAX_CPU_ISA`` (else ``DNNL_MAX_CPU_ISA``) caps oneDNN at (a name of
    ``_ONEDNN_LEVEL``, any case); None where unset, ``ALL`` or unknown."""
    value = (os.environ.get('ONEDNN_MAX_CPU_ISA') or os.environ.get('DNNL_MAX_CPU_ISA') or '')
    return value.upper() if value.upper() in _ONEDNN_LEVEL else None


def cpu_flags() -> Dict[str, bool]:
    """Which of :data:`CPU_FLAGS` this CPU has, less those above :func:`onednn_isa_cap` (all
    False where /proc/cpuinfo is absent)."""
    return _within_cap(_present())


def _within_cap(flags: Dict[str, bool]) -> Dict[str, bool]:
    cap = onednn_isa_cap()
    level = 99 if cap is None else _ONEDNN_LEVEL[cap]
    return {flag: has and _FLAG_LEVEL[flag] <= level for flag, has in flags.items()}


def _present() -> Dict[str, bool]:
    """Which of :data:`CPU_FLAGS` /proc/cpuinfo lists."""
    present = set((_cpuinfo_field('flags') or '').split())
    return {flag: flag in present for flag in CPU_FLAGS}


def cpu_vendor() -> str:
    """'AuthenticAMD', 'GenuineIntel', ... ('' where /proc/cpuinfo is absent)."""
    return _cpuinfo_field('vendor_id') or ''


def describe_cpu() -> str:
    """One line: CPU model, PyTorch's kernel level, the flags present, the threads."""
    name = _cpuinfo_field('model name') or platform.processor() or platform.machine()
    present = ' '.join(flag for flag, has in cpu_flags().items() if has) or 'none of interest'
    allowed = _within_cap(_present())
    hidden = [flag for flag, has in _present().items() if has and not allowed[flag]]
    capped = f' ({" ".join(hidden)} hidden: oneDNN capped at {onednn_isa_cap()})' if hidden else ''
    return (f'{name}; torch kernels {torch.backends.cpu.get_cpu_capability()}; '
            f'flags {present}{capped}; {torch.get_num_threads()} threads')
