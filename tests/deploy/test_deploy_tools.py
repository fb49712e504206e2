"""tools/export_onnx.py (fp32 and int8 folders, checked against PyTorch; refusals in one line)
and tools/test.py --backend: the exported model in MMOCR's test loop gives PyTorch's table and
per-sample predictions on an LMDB test set."""
import contextlib
import importlib.util
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

from clip4str_plugin.datasets.lmdb_io import write_lmdb
from conftest import CONFIGS, ROOT, build_model, load_config

SYNTH = CONFIGS / 'clip4str' / 'clip4str-tiny_3k_synth.py'


def run_tool(name, *argv):
    """``tools/<name>.py`` main in this interpreter: (SystemExit code or None, stdout)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out):
        # the Runner formats the whole config with yapf (seconds on a loaded machine)
        patch.setattr(Config, 'pretty_text', property(lambda cfg: cfg.text))
        patch.setattr(sys, 'argv', [name, *map(str, argv)])
        # the tools switch MMEngine's checkpoint loading to weights-only: only for this run
        patch.setattr(CheckpointLoader, '_schemes', dict(CheckpointLoader._schemes))
        patch.setattr(mmengine_checkpoint, 'load_state_dict', mmengine_checkpoint.load_state_dict)
        try:
            module.main()
        except SystemExit as exit:
            return exit.code, out.getvalue()
    return None, out.getvalue()


def one_set_config(tmp, folder):
    """A config testing the LMDB ``tmp/folder/words`` (named 'set')."""
    config = tmp / f'{folder}.py'
    config.write_text(
        f"_base_ = ['{SYNTH}']\n"
        "_set = dict(type='STRLMDBDataset', test_mode=True, charset=_base_.charset_94)\n"
        "test_dataloader = dict(batch_size=2, dataset=dict(datasets=[\n"
        f"    dict(_set, ann_file='{tmp / folder}', name='set')]))\n"
        "test_evaluator = dict(dataset_prefixes=['set'])\n")
    return config


@pytest.fixture(scope='module')
def setup():
    """A 5-word LMDB test set, a config testing it, a checkpoint of its model and the export
    (fp32 + int8) made by the tool, under a short root."""
    pytest.importorskip('onnxruntime', reason='onnxruntime is not installed (pip install '
                                              'clip4str_plugin[onnxruntime])')
    tmp = Path(tempfile.mkdtemp(prefix='t'))
    rng = np.random.default_rng(0)
    words = ['abc', 'de', 'f', 'gh', 'ijk']
    write_lmdb(str(tmp / 'set' / 'words'), [
        (cv2.imencode('.png', (rng.random((32, 40 + 20 * i, 3)) * 255).astype(np.uint8))[1]
         .tobytes(), word) for i, word in enumerate(words)])
    config = one_set_config(tmp, 'set')
    torch.manual_seed(0)
    checkpoint = tmp / 'model.pth'
    torch.save(dict(state_dict=build_model(load_config(config).model).state_dict()),
               str(checkpoint))
    export = tmp / 'export'
    code, printed = run_tool('export_onnx', config, checkpoint, export, '--int8',
                             '--check-images', '2')
    assert code is None, printed
    yield tmp, config, checkpoint, export, printed
    shutil.rmtree(tmp)


def test_export_tool(setup):
    tmp, config, checkpoint, export, printed = setup
    assert f'10 fp32 graphs (opset 17) and manifest.json in {export}' in printed
    assert f'int8 graphs (ONNX Runtime dynamic quantisation) in {export}/int8' in printed
    check = re.search(r'fp32 on onnxruntime vs PyTorch, 2 random images: identical strings '
                      r'2/2, largest logit difference (\S+)', printed)
    assert check and float(check.group(1)) < 1e-4, printed
    assert re.search(r'int8 vs fp32 on onnxruntime, 2 random images: identical strings '
                     r'[\d.]+ %, 1 - NED [\d.]+', printed), printed
    manifest = json.loads((export / 'manifest.json').read_text())
    assert manifest['checkpoint']['file'] == 'model.pth'
    assert manifest['input']['data_preprocessor'] == load_config(
        config).model.data_preprocessor.to_dict()
    assert json.loads((export / 'int8' / 'manifest.json').read_text())['precision'] == 'int8'
    # refusals: one line each, nothing overwritten
    assert run_tool('export_onnx', config, checkpoint, export)[0] == \
        f'error: {export} already holds an export; give another folder or --overwrite'
    missing = tmp / 'missing.pth'
    assert run_tool('export_onnx', config, missing, tmp / 'other')[0] == \
        f'error: checkpoint not found: {missing}'


def predictions(path):
    return [(r['pred'], r['visual_pred'], r['score']) for r in json.loads(path.read_text())]


def test_test_tool_backends_give_the_pytorch_table(setup):
    tmp, config, checkpoint, export, _ = setup
    results = {}
    for backend in ('pytorch', 'onnxruntime', 'openvino', 'int8'):
        if backend == 'openvino' and importlib.util.find_spec('openvino') is None:
            continue
        target = {'pytorch': checkpoint, 'int8': export / 'int8'}.get(backend, export)
        work = tmp / f'work_{backend}'
        # a copy of the LMDB per run: an LMDB opens once per process, and MMEngine keeps the
        # previous run's dataset alive
        shutil.copytree(tmp / 'set', tmp / backend)
        code, printed = run_tool('test', one_set_config(tmp, backend), target, '--work-dir',
                                 work, '--backend', 'onnxruntime' if backend == 'int8' else backend,
                                 '--save-preds', work / 'preds.pkl')
        assert code is None, printed
        results[backend] = ((work / 'test_results.md').read_text(),
                            predictions(work / 'preds.json'))
    table, preds = results.pop('pytorch')
    assert '| set | 5 |' in table and len(preds) == 5
    assert len({p[0] for p in preds}) > 1             # the random model reads different texts
    int8 = results.pop('int8')
    assert int8[0].startswith(table.split('\n')[0])   # int8: same columns, its own numbers
    for backend, (other_table, other_preds) in results.items():
        assert other_table == table, backend
        assert [p[:2] for p in other_preds] == [p[:2] for p in preds], backend
        assert [p[2] for p in other_preds] == pytest.approx([p[2] for p in preds], abs=1e-4)


def test_test_tool_refusals(setup):
    tmp, config, checkpoint, export, _ = setup
    assert run_tool('test', config, export, '--backend', 'onnxruntime', '--precision', 'bf16',
                    '--work-dir', tmp / 'w')[0] == (
        'error: --precision bf16 casts PyTorch weights; an exported model runs the precision '
        'of its folder (EXPORT_DIR or EXPORT_DIR/int8)')
    assert run_tool('test', config, checkpoint, '--backend', 'onnxruntime',
                    '--work-dir', tmp / 'w')[0] == (
        f'error: {checkpoint} is not an exported model: no manifest.json (make one with '
        'tools/export_onnx.py CONFIG CHECKPOINT OUT_DIR)')


def test_a_reexport_replaces_the_folder_whole(setup, monkeypatch):
    """Killed midway, the folder keeps the old export, all of it; complete, the new one, all of
    it (no int8/ left from before); a folder mixing two exports is refused in one line."""
    from clip4str_plugin.deploy import export as export_module
    tmp, config, checkpoint, export, _ = setup
    folder = tmp / 'reexport'
    shutil.copytree(export, folder)
    before = {p.relative_to(folder): p.read_bytes() for p in folder.rglob('*') if p.is_file()}
    torch.manual_seed(1)
    other = tmp / 'other.pth'
    torch.save(dict(state_dict=build_model(load_config(config).model).state_dict()), str(other))
    calls, export_graph = [], export_module._export_graph

    def killed_after_two(*args):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(args)
        export_graph(*args)

    monkeypatch.setattr(export_module, '_export_graph', killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        run_tool('export_onnx', config, other, folder, '--overwrite', '--check-images', '0')
    monkeypatch.undo()
    after = {p.relative_to(folder): p.read_bytes() for p in folder.rglob('*') if p.is_file()}
    assert after == before and [p.name for p in tmp.iterdir() if '.partial-' in p.name] == []
    code, printed = run_tool('export_onnx', config, other, folder, '--overwrite',
                             '--check-images', '0')
    assert code is None, printed
    manifest = json.loads((folder / 'manifest.json').read_text())
    assert manifest['checkpoint']['file'] == 'other.pth' and not (folder / 'int8').exists()
    shutil.copyfile(export / 'image_tower.onnx', folder / 'image_tower.onnx')   # A's graph
    shutil.copytree(tmp / 'set', tmp / 'mixed')
    code, _ = run_tool('test', one_set_config(tmp, 'mixed'), folder, '--backend', 'onnxruntime',
                       '--work-dir', tmp / 'w_mixed')
    assert code.startswith('error: ') and code.endswith(
        f'{folder}/image_tower.onnx is not the file {folder}/manifest.json was written with (its '
        'SHA-256 differs): a mixed or damaged folder; export the model again with '
        'tools/export_onnx.py'), code


def test_export_never_replaces_what_it_did_not_make(setup):
    tmp, config, checkpoint, export, _ = setup
    mine = tmp / 'mine'
    mine.mkdir()
    (mine / 'notes.txt').write_text('keep')
    assert run_tool('export_onnx', config, checkpoint, mine, '--overwrite')[0] == (
        f'error: {mine} holds files that are not an export (no manifest.json); give a new or '
        'empty folder')
    (mine / 'notes.txt').unlink()
    (tmp / 'a_file').write_text('keep')
    assert run_tool('export_onnx', config, checkpoint, tmp / 'a_file')[0] == (
        f'error: OUT_DIR {tmp / "a_file"} is a file, not a folder: give a folder (created when '
        'missing)')
    inside = tmp / 'holder'
    shutil.copytree(export, inside)
    shutil.copyfile(checkpoint, inside / 'model.pth')
    assert run_tool('export_onnx', config, inside / 'model.pth', inside, '--overwrite')[0] == (
        f'error: {inside / "model.pth"} lies inside {inside}, which --overwrite replaces whole; '
        'move it out first')
    assert (tmp / 'a_file').read_text() == 'keep' and (inside / 'model.pth').is_file()


def test_the_api_stages_refuses_and_cleans_killed_exports(setup):
    """``export_recognizer`` itself: refuses a folder of other files and an export without
    ``overwrite``; removes the hidden folder of a killed export of this host whose process has
    ended, and keeps those of a live process, of another host and of the older name form."""
    from clip4str_plugin.deploy import DeployError, export_recognizer
    tmp, config, checkpoint, _, _ = setup
    model = build_model(load_config(config).model).eval()
    preprocessor = load_config(config).model.data_preprocessor.to_dict()
    folder = tmp / 'api'
    folder.mkdir()
    (folder / 'notes.txt').write_text('keep')
    with pytest.raises(DeployError, match='holds files that are not an export'):
        export_recognizer(model, str(folder), preprocessor)
    (folder / 'notes.txt').unlink()
    a_file = tmp / 'a_file'                     # a file where the folder should go: kept
    a_file.write_text('keep')
    with pytest.raises(DeployError, match='is a file, not a folder'):
        export_recognizer(model, str(a_file), preprocessor, overwrite=True)
    assert a_file.read_text() == 'keep'
    ended = subprocess.Popen(['true'])
    ended.wait()
    host = socket.gethostname()
    names = {'gone': f'.api.partial-{host}-{ended.pid}-00aa', 'live':
             f'.api.partial-{host}-{os.getpid()}-00bb', 'other host':
             f'.api.partial-elsewhere-{ended.pid}-00cc', 'old form': '.api.partial-00dd'}
    for name in names.values():
        (tmp / name).mkdir()
        (tmp / name / 'image_tower.onnx').write_bytes(b'half')
    manifest = export_recognizer(model, str(folder), preprocessor, str(checkpoint), int8=True)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [*manifest['graphs'].values(), 'dict.txt', 'int8', 'manifest.json'])
    left = {p.name for p in tmp.iterdir() if p.name.startswith('.api.')}
    assert left == {names['live'], names['other host'], names['old form']}
    with pytest.raises(DeployError, match='already holds an export; give another folder or'):
        export_recognizer(model, str(folder), preprocessor)
    export_recognizer(model, str(folder), preprocessor, overwrite=True)
    assert not (folder / 'int8').exists()
