"""What this CPU offers, read from /proc/cpuinfo: the flags and vendor that choose precisions
and GEMM libraries, and a one-line description for logs and benchmark reports."""
import functools
import platform
from typing import Dict, Optional

import torch

#: CPU flags (as /proc/cpuinfo names them) that decide the precision or explain a benchmark.
CPU_FLAGS = ('avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx_vnni', 'avx512_bf16', 'avx512_fp16',
             'amx_tile', 'amx_bf16', 'amx_int8', 'amx_fp16')


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


def cpu_flags() -> Dict[str, bool]:
    """Which of :data:`CPU_FLAGS` this CPU has (all False where /proc/cpuinfo is absent)."""
    present = set((_cpuinfo_field('flags') or '').split())
    return {flag: flag in present for flag in CPU_FLAGS}


def cpu_vendor() -> str:
    """'AuthenticAMD', 'GenuineIntel', ... ('' where /proc/cpuinfo is absent)."""
    return _cpuinfo_field('vendor_id') or ''


def describe_cpu() -> str:
    """One line: CPU model, PyTorch's kernel level, the flags present, the threads."""
    name = _cpuinfo_field('model name') or platform.processor() or platform.machine()
    present = ' '.join(flag for flag, has in cpu_flags().items() if has) or 'none of interest'
    return (f'{name}; torch kernels {torch.backends.cpu.get_cpu_capability()}; '
            f'flags {present}; {torch.get_num_threads()} threads')
