"""tools/benchmark.py: precisions with the weights cast once beside autocast, 'auto' labelled
with what it chose, the CPU's flags in the header, reference-style decoding of a cast copy (run
in-process, as its command line)."""
import json

import torch

from clip4str_plugin.compute import cpu
from clip4str_plugin.compute import precision as prec
from clip4str_plugin.compute.switch import fp32_gemm_backend
from conftest import TINY_CONFIG, run_tool


def test_precisions_table_and_cpu_header(tmp_path, monkeypatch, capsys, uncapped):
    # an AMX CPU: auto picks bf16 (whatever this machine's CPU is)
    flags = dict.fromkeys(cpu.CPU_FLAGS, False) | dict(avx512f=True, amx_bf16=True)
    monkeypatch.setattr(cpu, 'cpu_flags', lambda: flags)
    monkeypatch.setattr(prec, 'cpu_flags', lambda: flags)
    monkeypatch.setattr(torch.ops.mkldnn, '_is_mkldnn_bf16_supported', lambda: True)
    cast = []
    real_cast = prec.set_inference_precision
    monkeypatch.setattr(prec, 'set_inference_precision',
                        lambda model, *a: cast.append(a) or real_cast(model, *a))
    out = tmp_path / 'bench.json'
    assert run_tool('benchmark.py', TINY_CONFIG, '--batch-sizes', '1', '--iters', '1',
                    '--warmup', '0', '--threads', '1', '--precision', 'fp32', 'auto',
                    'bf16-autocast', '--uncached', '--out', out, monkeypatch=monkeypatch) == ''
    text = capsys.readouterr().out
    assert 'flags avx512f amx_bf16;' in text and 'torch kernels' in text
    assert f'; fp32 GEMMs {fp32_gemm_backend()} (median of 1 batches)' in text
    rows = json.loads(out.read_text())['results']
    assert [(r['decoding'], r['precision']) for r in rows] == [
        (mode, p) for mode in ('cached', 'uncached') for p in ('fp32', 'auto (bf16)',
                                                               'bf16-autocast')]
    assert cast == [('auto', 'cpu')] * 2      # a cast copy per mode; autocast keeps fp32 weights
    assert all(r['images_per_s'] > 0 and r['batch_size'] == 1 for r in rows)
    assert '| cached | auto (bf16) | 1 |' in text


def test_out_is_never_replaced_without_overwrite(tmp_path, monkeypatch):
    out = tmp_path / 'bench.json'
    out.write_text('mine')
    assert run_tool('benchmark.py', TINY_CONFIG, '--out', out, monkeypatch=monkeypatch) == (
        f'error: --out {out} already exists; pass --overwrite to replace it, or write elsewhere')
    assert run_tool('benchmark.py', TINY_CONFIG, '--out', TINY_CONFIG, '--overwrite',
                    monkeypatch=monkeypatch) == (
        f'error: --out {TINY_CONFIG} is also the input {TINY_CONFIG}; write the output elsewhere')
    assert out.read_text() == 'mine'
