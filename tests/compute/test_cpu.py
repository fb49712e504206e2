"""compute/cpu: the flags, vendor and one-line description read from /proc/cpuinfo."""
import pytest
import torch

from clip4str_plugin.compute import cpu


def test_cpu_description(monkeypatch, uncapped):
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


def fake_cpuinfo(monkeypatch, tmp_path, flags: str):
    """/proc/cpuinfo replaced by two processors, the first AMD with ``flags``; the paths
    opened are listed in the returned list."""
    info = tmp_path / 'cpuinfo'
    info.write_text('processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\n'
                    f'flags\t\t: {flags}\n\nprocessor\t: 1\nvendor_id\t: Other\n')
    real_open = open
    opened = []
    monkeypatch.setattr('builtins.open', lambda path, *a, **k: opened.append(path) or real_open(
        info if path == '/proc/cpuinfo' else path, *a, **k))
    return opened


def test_fields_come_from_cpuinfo(monkeypatch, tmp_path, fresh_cpuinfo, uncapped):
    opened = fake_cpuinfo(monkeypatch, tmp_path, 'fpu avx2 fma avx512f')
    assert cpu.cpu_vendor() == 'AuthenticAMD'                  # the first processor's
    flags = cpu.cpu_flags()
    assert [f for f, on in flags.items() if on] == ['avx2', 'fma', 'avx512f']
    assert cpu.describe_cpu().startswith('AMD EPYC; torch kernels ')
    assert opened.count('/proc/cpuinfo') == 1                  # read once
    cpu._cpuinfo.cache_clear()
    monkeypatch.setattr('builtins.open', lambda *a, **k: (_ for _ in ()).throw(OSError()))
    assert cpu.cpu_vendor() == '' and not any(cpu.cpu_flags().values())


@pytest.mark.parametrize('cap, left', [
    ('AVX2', ['avx2', 'fma']), ('avx512_core', ['avx2', 'fma', 'avx512f']),
    ('AVX512_CORE_VNNI', ['avx2', 'fma', 'avx512f', 'avx512_vnni']),
    ('AVX512_CORE_BF16', ['avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx512_bf16']),
    ('ALL', ['avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx512_bf16']),
    ('NO_SUCH_ISA', ['avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx512_bf16'])])
def test_onednn_isa_cap_hides_the_flags_above_it(monkeypatch, tmp_path, fresh_cpuinfo,
                                                 uncapped, cap, left):
    fake_cpuinfo(monkeypatch, tmp_path, 'fpu avx2 fma avx512f avx512_vnni avx512_bf16')
    monkeypatch.setenv('ONEDNN_MAX_CPU_ISA', cap)
    assert [f for f, on in cpu.cpu_flags().items() if on] == left
    text = cpu.describe_cpu()
    assert (f'oneDNN capped at {cap.upper()}' in text) == (len(left) < 5)
    assert ('flags ' + ' '.join(left)) in text


def test_the_cap_chooses_fp32_where_bf16_would_be_emulated(monkeypatch, tmp_path, fresh_cpuinfo,
                                                           uncapped):
    from clip4str_plugin.compute import precision, switch
    fake_cpuinfo(monkeypatch, tmp_path, 'fpu avx2 fma avx512f avx512_vnni avx512_bf16')
    monkeypatch.setattr(precision, 'bf16_supported', lambda: True)
    assert precision.resolve_precision('auto') == 'bf16'
    assert switch._amd_avx512()
    monkeypatch.setenv('DNNL_MAX_CPU_ISA', 'AVX2')           # oneDNN's older name
    assert precision.resolve_precision('auto') == 'fp32'
    assert 'no AMX / AVX-512 BF16 for oneDNN' in precision.bf16_reason()
    assert not switch._amd_avx512()                          # MKL's fp32 GEMMs, as on AVX2
    monkeypatch.setenv('ONEDNN_MAX_CPU_ISA', 'AVX512_CORE_BF16')   # wins over DNNL_
    assert precision.resolve_precision('auto') == 'bf16'
