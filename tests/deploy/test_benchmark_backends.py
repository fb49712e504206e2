"""tools/benchmark.py --backend: the exported model (fp32 and int8) timed beside PyTorch, a row
per backend and precision; a runtime that is not installed is one line."""
import json
import sys

import pytest

from conftest import TINY_CONFIG, run_tool


def test_rows_per_backend_and_precision(tmp_path, monkeypatch, capsys):
    pytest.importorskip('onnxruntime', reason='onnxruntime is not installed (pip install '
                                              'clip4str_plugin[onnxruntime])')
    pytest.importorskip('openvino', reason='openvino is not installed (pip install '
                                           'clip4str_plugin[openvino])')
    out = tmp_path / 'bench.json'
    # no --threads: torch's thread count is process-wide and later tests expect theirs
    assert run_tool('benchmark.py', TINY_CONFIG, '--batch-sizes', '2', '--iters', '1',
                    '--warmup', '0', '--precision', 'fp32', 'int8',
                    '--backend', 'pytorch', 'onnxruntime', 'openvino', '--out', out,
                    monkeypatch=monkeypatch) == ''
    rows = json.loads(out.read_text())['results']
    assert [(r['backend'], r['precision']) for r in rows] == [
        ('pytorch', 'fp32'), ('onnxruntime', 'fp32'), ('onnxruntime', 'int8'),
        ('openvino', 'fp32'), ('openvino', 'int8')]
    assert all(r['images_per_s'] > 0 and r['peak_memory_mib'] > 0 for r in rows)
    assert '| onnxruntime | cached | int8 | 2 |' in capsys.readouterr().out


def test_missing_runtime(monkeypatch):
    monkeypatch.setitem(sys.modules, 'openvino', None)
    assert run_tool('benchmark.py', TINY_CONFIG, '--batch-sizes', '1', '--backend', 'openvino',
                    monkeypatch=monkeypatch) == \
        'error: openvino is not installed: pip install clip4str_plugin[openvino]'
