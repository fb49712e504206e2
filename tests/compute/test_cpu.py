"""compute/cpu: the flags, vendor and one-line description read from /proc/cpuinfo."""
import pytest
import torch

from clip4str_plugin.compute import cpu


def test_cpu_description(monkeypatch):
    monkeypatch.setattr(cpu, 'cpu_flags', lambda: dict.fromkeys(cpu.CPU_FLAGS, False) |
                        dict(avx2=True, fma=True))
    text = cpu.describe_cpu()
    assert f'torch kernels {torch.backends.cpu.get_cpu_capability()}' in text
    assert 'flags avx2 fma;' in text and text.endswith(f'{torch.get_num_threads()} threads')


@pytest.fixture
def fresh_cpuinfo():
    """/proc/cpuinfo is read once per process: read it again in this test, and after it."""
    cpu._cpuinfo.cache_clear()
    yield
    cpu._cpuinfo.cache_clear()


def test_fields_come_from_cpuinfo(monkeypatch, tmp_path, fresh_cpuinfo):
    info = tmp_path / 'cpuinfo'
    info.write_text('processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\n'
                    'flags\t\t: fpu avx2 fma avx512f\n\nprocessor\t: 1\nvendor_id\t: Other\n')
    real_open = open
    opened = []
    monkeypatch.setattr('builtins.open', lambda path, *a, **k: opened.append(path) or real_open(
        info if path == '/proc/cpuinfo' else path, *a, **k))
    assert cpu.cpu_vendor() == 'AuthenticAMD'                  # the first processor's
    flags = cpu.cpu_flags()
    assert [f for f, on in flags.items() if on] == ['avx2', 'fma', 'avx512f']
    assert cpu.describe_cpu().startswith('AMD EPYC; torch kernels ')
    assert opened.count('/proc/cpuinfo') == 1                  # read once
    cpu._cpuinfo.cache_clear()
    monkeypatch.setattr('builtins.open', lambda *a, **k: (_ for _ in ()).throw(OSError()))
    assert cpu.cpu_vendor() == '' and not any(cpu.cpu_flags().values())
