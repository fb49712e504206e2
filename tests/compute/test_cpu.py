"""compute/cpu: the flags, vendor and one-line description read from /proc/cpuinfo."""
import torch

from clip4str_plugin.compute import cpu


def test_cpu_description(monkeypatch):
    monkeypatch.setattr(cpu, 'cpu_flags', lambda: dict.fromkeys(cpu.CPU_FLAGS, False) |
                        dict(avx2=True, fma=True))
    text = cpu.describe_cpu()
    assert f'torch kernels {torch.backends.cpu.get_cpu_capability()}' in text
    assert 'flags avx2 fma;' in text and text.endswith(f'{torch.get_num_threads()} threads')


def test_fields_come_from_cpuinfo(monkeypatch, tmp_path):
    info = tmp_path / 'cpuinfo'
    info.write_text('processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\n'
                    'flags\t\t: fpu avx2 fma avx512f\n')
    real_open = open
    monkeypatch.setattr('builtins.open', lambda path, *a, **k: real_open(
        info if path == '/proc/cpuinfo' else path, *a, **k))
    assert cpu.cpu_vendor() == 'AuthenticAMD'
    flags = cpu.cpu_flags()
    assert [f for f, on in flags.items() if on] == ['avx2', 'fma', 'avx512f']
    assert cpu.describe_cpu().startswith('AMD EPYC; torch kernels ')
    monkeypatch.setattr('builtins.open', lambda *a, **k: (_ for _ in ()).throw(OSError()))
    assert cpu.cpu_vendor() == '' and not any(cpu.cpu_flags().values())
