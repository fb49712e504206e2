"""tools/test.py --show-dir, --show and --save-preds on LMDB test sets: a drawing of every sample
from the image in its LMDB (with the visual branch's text), the display called per sample, and
one prediction per sample of every dataset in the pickle and the JSON."""
import json
import pickle
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.visualization import Visualizer

from clip4str_plugin.datasets.lmdb_io import write_lmdb
from conftest import CONFIGS, build_model, load_config, run_tool

SYNTH = CONFIGS / 'clip4str' / 'clip4str-tiny_3k_synth.py'


def word_lmdb(path, words, seed):
    rng = np.random.default_rng(seed)
    images = [(rng.random((24 + 4 * i, 60 + 20 * i, 3)) * 255).astype(np.uint8)
              for i in range(len(words))]
    write_lmdb(str(path), [(cv2.imencode('.png', img)[1].tobytes(), w)
                           for img, w in zip(images, words)])
    return images


@pytest.fixture(scope='module')
def setup():
    """Two test sets, both LMDBs named ``words`` (drawing names must not collide), a config
    testing both and a checkpoint of its model, under a short root (MMEngine formats the whole
    config with yapf, slowly for long strings)."""
    tmp = Path(tempfile.mkdtemp(prefix='t'))
    images = {'one': word_lmdb(tmp / 'one' / 'words', ['abc', 'de', 'f'], 0),
              'two': word_lmdb(tmp / 'two' / 'words', ['gh', 'ijk'], 1)}
    config = tmp / 'two_sets.py'
    config.write_text(
        f"_base_ = ['{SYNTH}']\n"
        "_set = dict(type='STRLMDBDataset', test_mode=True, charset=_base_.charset_94)\n"
        "test_dataloader = dict(batch_size=2, dataset=dict(datasets=[\n"
        f"    dict(_set, ann_file='{tmp / 'one'}', name='one'),\n"
        f"    dict(_set, ann_file='{tmp / 'two'}', name='two')]))\n"
        "test_evaluator = dict(dataset_prefixes=['one', 'two'])\n"
        "model = dict(decoder=dict(max_seq_len=5))\n")
    torch.manual_seed(0)
    checkpoint = tmp / 'model.pth'
    torch.save(dict(state_dict=build_model(load_config(config).model).state_dict()),
               str(checkpoint))
    yield tmp, config, checkpoint, images
    shutil.rmtree(tmp)


def run_test_tool(monkeypatch, *argv) -> str:
    # the Runner formats the whole config with yapf four times (seconds each on a loaded
    # 2-core machine); its source text serves the log and the dump here
    monkeypatch.setattr(Config, 'pretty_text', property(lambda cfg: cfg.text))
    return run_tool('test.py', *argv, monkeypatch=monkeypatch)


def test_show_dir_show_and_save_preds(setup, monkeypatch):
    tmp_path, config, checkpoint, images = setup
    shown = []
    monkeypatch.setattr(Visualizer, 'show', lambda self, img, win_name='', wait_time=0, **kw:
                        shown.append((win_name, wait_time, img.shape)))
    work = tmp_path / 'work'
    assert run_test_tool(monkeypatch, config, checkpoint, '--work-dir', work, '--show-dir', 'vis',
                         '--show', '--wait-time', '0.5', '--save-preds',
                         tmp_path / 'preds.pkl') == ''
    # drawings: <work_dir>/<timestamp>/vis/<lmdb folder>/image-%09d.png, the second set's
    # colliding names suffixed; each the LMDB's image (64 rows) over gt, pred and visual rows
    (run_dir, ) = [p for p in work.iterdir() if (p / 'vis').is_dir()]
    drawn = sorted(p.relative_to(run_dir / 'vis').as_posix()
                   for p in (run_dir / 'vis').rglob('*.png'))
    assert drawn == ['words/image-000000001.png', 'words/image-000000001_2.png',
                     'words/image-000000002.png', 'words/image-000000002_2.png',
                     'words/image-000000003.png']
    for name, image in [('image-000000002', images['one'][1]),
                        ('image-000000002_2', images['two'][1])]:
        picture = cv2.imread(str(run_dir / 'vis' / 'words' / f'{name}.png'))
        width = round(64 * image.shape[1] / image.shape[0])
        assert picture.shape == (4 * 64, width, 3)
        assert np.array_equal(picture[:64], cv2.resize(image, (width, 64)))
        assert (picture[64:] == 255).mean() > 0.5                # text rows on white
    # the display: once per sample, for the given time
    assert len(shown) == 5 and {s[1] for s in shown} == {0.5}
    assert shown[0][0] == 'words/image-000000001' and shown[0][2][0] == 4 * 64
    # predictions: one per sample of both sets, pickle and JSON
    with open(tmp_path / 'preds.pkl', 'rb') as f:
        dumped = pickle.load(f)
    readable = json.loads((tmp_path / 'preds.json').read_text())
    assert len(dumped) == len(readable) == 5
    assert [d['gt_text']['item'] for d in dumped] == ['abc', 'de', 'f', 'gh', 'ijk']
    assert [r['gt'] for r in readable] == ['abc', 'de', 'f', 'gh', 'ijk']
    assert readable[3]['img_path'].endswith('/two/words/image-000000001')
    for d, r in zip(dumped, readable):
        assert r['pred'] == d['pred_text']['item'] and len(r['pred']) <= 6   # 5 + 1 queries
        assert r['visual_pred'] == d['visual_pred_text']['item']
        assert r['score'] == pytest.approx(np.mean(d['pred_text']['score']), abs=1e-6)


def test_save_preds_needs_a_pickle_name(setup, tmp_path, monkeypatch):
    _, config, checkpoint, _ = setup
    assert run_test_tool(monkeypatch, config, checkpoint, '--work-dir', tmp_path,
                         '--save-preds', tmp_path / 'preds.json') == \
        f"error: --save-preds {tmp_path / 'preds.json'}: give a .pkl file (the pickle of " \
        "MMEngine's DumpResults; the readable .json is written beside it)"


def test_save_preds_never_replaces_a_file(setup, tmp_path, monkeypatch):
    _, config, checkpoint, _ = setup
    for existing in ('preds.pkl', 'preds.json'):          # the pickle, or the .json beside it
        (tmp_path / existing).write_text('mine')
        assert run_test_tool(monkeypatch, config, checkpoint, '--work-dir', tmp_path,
                             '--save-preds', tmp_path / 'preds.pkl') == (
            f'error: --save-preds: {tmp_path / existing} already exists; pass --overwrite to '
            'replace it, or write elsewhere')
        assert (tmp_path / existing).read_text() == 'mine'
        (tmp_path / existing).unlink()
    pickled = tmp_path / 'model.pkl'                   # a checkpoint named .pkl: never replaced
    shutil.copyfile(checkpoint, pickled)
    assert run_test_tool(monkeypatch, config, pickled, '--work-dir', tmp_path, '--save-preds',
                         pickled, '--overwrite') == (
        f'error: --save-preds: {pickled} is also the input {pickled}; write the output elsewhere')


def test_save_preds_alone_writes_into_the_work_dir(setup, tmp_path, monkeypatch):
    """MMOCR's habit: ``--save-preds`` as a flag, ``<work_dir>/predictions.pkl`` (and .json),
    never replacing an existing file without --overwrite."""
    from test_infer import load_tool
    _, config, checkpoint, _ = setup
    tool = load_tool('test')
    monkeypatch.setattr('sys.argv', ['test.py', str(config), str(checkpoint), '--work-dir',
                                     str(tmp_path), '--save-preds'])
    evaluator = tool.setup_cfg(tool.parse_args()).test_evaluator
    dumps = [m for m in evaluator.metrics if m['type'] == 'DumpTextPredictions']
    assert [d['out_file_path'] for d in dumps] == [str(tmp_path / 'predictions.pkl')]
    (tmp_path / 'predictions.json').write_text('mine')
    assert run_test_tool(monkeypatch, config, checkpoint, '--work-dir', tmp_path,
                         '--save-preds') == (
        f"error: --save-preds: {tmp_path / 'predictions.json'} already exists; pass "
        '--overwrite to replace it, or write elsewhere')
