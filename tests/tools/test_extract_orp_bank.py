"""tools/extract_orp_bank.py's output: an existing bank (or an input) is never replaced
without --overwrite, and nothing is built before it says so."""
from conftest import TINY_CONFIG, run_tool


def test_an_existing_bank_is_refused(tmp_path, monkeypatch):
    bank = tmp_path / 'bank.npy'
    bank.write_bytes(b'mine')
    assert run_tool('extract_orp_bank.py', tmp_path, bank, '--config', TINY_CONFIG,
                    monkeypatch=monkeypatch) == (
        f'error: {bank} already exists; pass --overwrite to replace it, or write elsewhere')
    assert run_tool('extract_orp_bank.py', tmp_path, TINY_CONFIG, '--config', TINY_CONFIG,
                    '--overwrite', monkeypatch=monkeypatch) == (
        f'error: {TINY_CONFIG} is also the input {TINY_CONFIG}; write the output elsewhere')
    assert bank.read_bytes() == b'mine'
