"""compute/switch: CLIP4STR_FASTPATH reads auto, off or on (any case), decides what runs on this
CPU once per value and logs it, refuses anything else in one line; oneDNN's GEMMs under auto
only on AMD CPUs with AVX-512, always under on, never under off."""
import pytest

from clip4str_plugin.compute import cpu, switch


@pytest.fixture(autouse=True)
def fresh_plans():
    switch.resolve.cache_clear()
    yield
    switch.resolve.cache_clear()


def cpu_class(monkeypatch, vendor, avx512f):
    monkeypatch.setattr(switch, 'cpu_vendor', lambda: vendor)
    monkeypatch.setattr(switch, 'cpu_flags', lambda: dict.fromkeys(cpu.CPU_FLAGS, False) |
                        dict(avx2=True, avx512f=avx512f))


def test_values_are_decided_and_logged_once(monkeypatch):
    logged = []
    monkeypatch.setattr(switch, 'print_log', lambda msg, **kwargs: logged.append(msg))
    cpu_class(monkeypatch, 'GenuineIntel', True)
    monkeypatch.delenv('CLIP4STR_FASTPATH', raising=False)
    assert switch.current_plan().mode == 'auto'
    monkeypatch.setenv('CLIP4STR_FASTPATH', 'Off')
    assert switch.current_plan().mode == switch.current_plan().mode == 'off'
    assert switch.current_plan() == switch.Plan('off', tuned=False, onednn=False)
    assert logged == [
        'CLIP4STR_FASTPATH=auto: tuned paths where measured to pay on this CPU class',
        'CLIP4STR_FASTPATH=off: public PyTorch API only']


def test_a_wrong_value_is_refused(monkeypatch):
    monkeypatch.setenv('CLIP4STR_FASTPATH', 'mkl')
    with pytest.raises(switch.FastpathSwitchError,
                       match="CLIP4STR_FASTPATH must be one of auto, off, on; got 'mkl'"):
        switch.current_plan()


@pytest.mark.parametrize('value, vendor, avx512f, expected', [
    ('auto', 'AuthenticAMD', True, 'onednn'),     # MKL would run its AVX2 code
    ('auto', 'AuthenticAMD', False, 'mkl'),       # AVX2 only: oneDNN measured 0.8-0.95x MKL
    ('auto', 'GenuineIntel', True, 'mkl'),
    ('on', 'GenuineIntel', False, 'onednn'),
    ('off', 'AuthenticAMD', True, 'mkl'),
    ('AUTO', 'AuthenticAMD', True, 'onednn')])
def test_the_switch_and_the_cpu_class_choose(monkeypatch, value, vendor, avx512f, expected):
    monkeypatch.setenv('CLIP4STR_FASTPATH', value)
    cpu_class(monkeypatch, vendor, avx512f)
    assert switch.fp32_gemm_backend() == expected
    assert switch.current_plan().tuned == (value != 'off')


def test_the_cpu_is_read_once_per_value(monkeypatch):
    reads = []
    monkeypatch.setattr(switch, 'cpu_vendor', lambda: reads.append(1) or 'AuthenticAMD')
    monkeypatch.setattr(switch, 'cpu_flags', lambda: dict(avx512f=True))
    monkeypatch.setenv('CLIP4STR_FASTPATH', 'auto')
    assert [switch.fp32_gemm_backend() for _ in range(5)] == ['onednn'] * 5
    assert reads == [1]
