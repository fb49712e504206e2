"""compute/switch: CLIP4STR_FASTPATH reads auto, off or on (any case), logs each value once and
refuses anything else in one line."""
import pytest

from clip4str_plugin.compute import switch


def test_values_are_read_and_logged_once(monkeypatch):
    logged = []
    monkeypatch.setattr(switch, 'print_log', lambda msg, **kwargs: logged.append(msg))
    monkeypatch.setattr(switch, '_logged', set())
    monkeypatch.delenv('CLIP4STR_FASTPATH', raising=False)
    assert switch.fastpath() == 'auto'
    monkeypatch.setenv('CLIP4STR_FASTPATH', 'Off')
    assert switch.fastpath() == switch.fastpath() == 'off'
    assert logged == [
        'CLIP4STR_FASTPATH=auto: tuned paths where measured to pay on this CPU class',
        'CLIP4STR_FASTPATH=off: public PyTorch API only']


def test_a_wrong_value_is_refused(monkeypatch):
    monkeypatch.setenv('CLIP4STR_FASTPATH', 'mkl')
    with pytest.raises(switch.FastpathSwitchError,
                       match="CLIP4STR_FASTPATH must be one of auto, off, on; got 'mkl'"):
        switch.fastpath()
