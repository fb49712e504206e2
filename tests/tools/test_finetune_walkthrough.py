"""docs/finetune.md, run: a folder of word crops and a labels file -> train / val / test label
files (the page's awk lines) -> LMDBs (tools/make_lmdb.py) -> an official checkpoint converted
(tools/convert_clip4str_ckpt.py) -> fine-tuned with load_from by tools/train.py and
configs/clip4str/clip4str-b16_finetune_custom.py -> tools/test.py on the test LMDB ->
tools/infer.py on the crops folder.

What differs from the page: the model (the official tiny fixture, the authors' code on random
weights of a small CLIP4STR-B geometry, stands in for an official file, and ``--cfg-options`` give
the config that geometry), the length (2 iterations of 2 images) and no refinement round. The
tools run in-process as their command lines, each on fresh outputs under the test's folder. The
page's awk lines, configs and MMOCR-JSON lines are read from the page itself."""
import gc
import io
import json
import re
import subprocess
import sys
import uuid

import mmengine.config.config as mmengine_config
import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.runner.checkpoint import CheckpointLoader
from PIL import Image

from clip4str_plugin.datasets.lmdb_io import iter_labels
from clip4str_plugin.synth.word_renderer import render_samples
from clip4str_plugin.weights.loading import load_checkpoint_file
from conftest import CONFIGS, ROOT, build_model, load_config, run_tool
from fixtures.make_official_tiny import load_official_tiny
from test_convert_clip4str_ckpt import write_lightning_ckpt

CONFIG = str(CONFIGS / 'clip4str' / 'clip4str-b16_finetune_custom.py')
PAGE = (ROOT / 'docs' / 'finetune.md').read_text(encoding='utf-8')
NUM_CROPS = 40
# the page's split: {set: awk condition}, one line in ten to val, one to test, the rest train
SPLIT = {name: condition for condition, name in
         re.findall(r"^awk '([^']+)' labels.txt > (\w+)_labels.txt$", PAGE, re.M)}
# the official tiny fixture's geometry (vision / text width 128, 2 layers; joint and decoder 64)
GEOMETRY = ['model.backbone.embed_dim=64', 'model.backbone.width=128', 'model.backbone.layers=2',
            'model.decoder.text_encoder.embed_dim=64', 'model.decoder.text_encoder.width=128',
            'model.decoder.text_encoder.layers=2', 'model.decoder.decoder.embed_dim=64']
# loaders in this process; no refinement round (most of the decoding time of these weights)
FAST = ['train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0', 'test_dataloader.num_workers=0',
        'model.decoder.refine_iters=0']
LR, ITERS = 2e-5, 2


def write_crops(folder):
    """Rendered words as PNG files and ``labels.txt`` (``<file><TAB><label>``), as the page
    asks users to write."""
    crops = folder / 'crops'
    crops.mkdir()
    lines = []
    for i, (jpeg, label) in enumerate(render_samples('train', NUM_CROPS, seed=0,
                                                     random_fraction=0.0)):
        Image.open(io.BytesIO(jpeg)).save(crops / f'word_{i:03d}.png')
        lines.append(f'word_{i:03d}.png\t{label}\n')
    (folder / 'labels.txt').write_text(''.join(lines), encoding='utf-8')
    return crops


def run(name, *argv):
    """tools/<name> in-process as its command line; its exit message ('' on success)."""
    gc.collect()           # the last run's datasets: an LMDB may be open once per process
    MMLogger.get_instance(f'finetune-{uuid.uuid4().hex}')
    with pytest.MonkeyPatch.context() as patch:
        return run_tool(name, *argv, monkeypatch=patch)


@pytest.fixture(scope='module')
def walk(tmp_path_factory):
    """Every command of the page, in order; the folder that holds their outputs."""
    tmp = tmp_path_factory.mktemp('finetune')
    threads = torch.get_num_threads()
    torch.set_num_threads(1)     # two threads that wait for each other crawl on a busy machine
    try:
        commands(tmp)
    finally:
        torch.set_num_threads(threads)
    return tmp


def commands(tmp):
    """The page's commands, writing under ``tmp``."""
    crops = write_crops(tmp)
    for split, condition in SPLIT.items():
        with open(tmp / f'{split}_labels.txt', 'w') as out:
            subprocess.run(['awk', condition, str(tmp / 'labels.txt')], stdout=out, check=True)
        assert run('make_lmdb.py', crops, tmp / f'{split}_labels.txt',
                   tmp / 'data' / split) == ''

    official = tmp / 'clip4str_tiny.ckpt'
    write_lightning_ckpt(official, load_official_tiny()[0])
    assert run('convert_clip4str_ckpt.py', official, tmp / 'tiny.pth') == ''

    with pytest.MonkeyPatch.context() as patch:
        # the Runner formats its config with yapf for the log and each checkpoint (seconds on a
        # loaded machine): the same text, unformatted
        patch.setattr(mmengine_config, 'FormatCode', lambda text, **kwargs: (text, False))
        patch.setattr(CheckpointLoader, '_schemes', dict(CheckpointLoader._schemes))
        patch.setattr(sys, 'path', list(sys.path))
        patch.setenv('CUSTOM_DATA_ROOT', str(tmp / 'data'))
        assert run('train.py', CONFIG, '--work-dir', tmp / 'work', '--cfg-options',
                   f'load_from={tmp / "tiny.pth"}', f'optim_wrapper.optimizer.lr={LR}',
                   f'max_iters={ITERS}', f'train_cfg.val_interval={ITERS}',
                   f'default_hooks.checkpoint.interval={ITERS}', 'train_dataloader.batch_size=2',
                   'default_hooks.logger.interval=1', *GEOMETRY, *FAST) == ''
        (best, ) = (tmp / 'work').glob('best_custom-val_str_accuracy_iter_*.pth')
        assert run('test.py', CONFIG, best, '--work-dir', tmp / 'test', '--cfg-options',
                   *GEOMETRY, *FAST) == ''
    assert run('infer.py', best, crops, '--out-dir', tmp / 'infer', '--batch-size', '64') == ''


def test_labels_file_becomes_three_lmdbs(walk):
    assert sorted(SPLIT) == ['test', 'train', 'val']
    lines = (walk / 'labels.txt').read_text(encoding='utf-8').splitlines()
    labels = {split: [label for _, label in iter_labels(str(walk / 'data' / split))]
              for split in SPLIT}
    assert labels['val'] == [line.split('\t')[1] for line in lines[0::10]]
    assert labels['test'] == [line.split('\t')[1] for line in lines[1::10]]
    assert len(labels['train']) == NUM_CROPS - 8
    assert sorted(sum(labels.values(), [])) == sorted(line.split('\t')[1] for line in lines)


def test_training_starts_from_the_converted_checkpoint(walk):
    (log, ) = (walk / 'work').glob('*/*.log')
    text = log.read_text()
    assert f'Load checkpoint from {walk / "tiny.pth"}' in text
    assert f'Iter(train) [{ITERS}/{ITERS}]' in text
    assert 'custom-train: kept 32 of 32 samples' in text
    start = load_checkpoint_file(str(walk / 'tiny.pth'))['state_dict']
    tuned = load_checkpoint_file(str(walk / 'work' / f'iter_{ITERS}.pth'))
    assert tuned['meta']['iter'] == ITERS
    moved = {key: (tuned['state_dict'][key] - value).abs().max().item()
             for key, value in start.items()}
    assert set(moved) == set(tuned['state_dict'])
    # a few small steps away from the start (random weights would be ~0.02 and more away)
    assert 0 < max(moved.values()) < 20 * LR * ITERS * 2, max(moved.items(), key=lambda kv: kv[1])
    assert moved['decoder.text_encoder.text.token_embedding.weight'] == 0   # frozen
    # the lr given on the command line: the CLIP towers' peak, the decoders' 19x
    max_lrs = sorted({group['max_lr'] for group in tuned['optimizer']['param_groups']})
    assert max_lrs == pytest.approx([LR, 19 * LR])


def test_test_tool_writes_the_table_of_the_test_lmdb(walk):
    metrics = json.loads((walk / 'test' / 'test_results.json').read_text())
    assert metrics['custom-test/str/num_samples'] == 4
    for key in ('custom-test/str/accuracy', 'custom-test/str/1-NED',
                'custom-test/recog/word_acc', 'custom-test/recog/char_precision'):
        assert 0 <= metrics[key] <= 1, key
    table = (walk / 'test' / 'test_results.md').read_text().splitlines()
    assert table[0].startswith('| dataset | samples | ')
    assert any(row.startswith('| custom-test | 4 | ') for row in table)


def test_infer_reads_one_word_per_crop(walk):
    (run_dir, ) = (walk / 'infer').iterdir()
    result = json.loads((run_dir / 'predictions.json').read_text(encoding='utf-8'))
    crops = sorted(str(p) for p in (walk / 'crops').glob('*.png'))
    assert [row['path'] for row in result['predictions']] == crops
    assert result['skipped'] == []
    assert all(isinstance(row['text'], str) for row in result['predictions'])


def page_configs():
    """The page's Python blocks that are configs (``_base_ = ['clip4str-...']``)."""
    return re.findall(r"```python\n(_base_ = \['clip4str-.*?)```", PAGE, re.S)


def code_lines(text):
    return [line for line in text.splitlines() if line.strip() and not line.startswith('#')]


def test_the_page_shows_the_shipped_config():
    shipped = code_lines(open(CONFIG, encoding='utf-8').read())
    assert [code_lines(block) for block in page_configs()].count(shipped) == 1


@pytest.mark.parametrize('block', page_configs(), ids=lambda block: block.splitlines()[0])
def test_the_pages_configs_build(block, tmp_path, monkeypatch):
    """Each config of the page, saved in a folder of its own with its base named by path:
    parses, builds its model (on the meta device) and starts from a checkpoint, not CLIP."""
    path = tmp_path / 'mine.py'
    path.write_text(block.replace("_base_ = ['", f"_base_ = ['{CONFIGS / 'clip4str'}/", 1))
    cfg = load_config(path)
    monkeypatch.chdir(tmp_path)
    with torch.device('meta'):
        build_model(cfg.model)
    assert cfg.load_from.startswith('checkpoints/clip4str_')
    assert cfg.model.backbone.pretrained is None
    assert cfg.model.decoder.text_encoder.pretrained is None
    assert cfg.auto_scale_lr.enable is False


def test_the_pages_mmocr_json_lines_write_a_labels_file(tmp_path):
    """1 b): MMOCR's textrecog JSON (paths relative to the dataset folder) -> labels file."""
    (script, ) = re.findall(r"python - \S+ \S+ <<'EOF'\n(.*?)\nEOF\n", PAGE, re.S)
    samples = [('textrecog_imgs/train/word_1.png', 'Main St.'),
               ('textrecog_imgs/train/word_2.png', 'café')]
    data = dict(metainfo=dict(dataset_type='TextRecogDataset', task_name='textrecog'),
                data_list=[dict(img_path=path, instances=[dict(text=label)])
                           for path, label in samples])
    (tmp_path / 'textrecog_train.json').write_text(json.dumps(data), encoding='utf-8')
    subprocess.run([sys.executable, '-', str(tmp_path / 'textrecog_train.json'),
                    str(tmp_path / 'train_labels.txt')], input=script, text=True, check=True)
    assert (tmp_path / 'train_labels.txt').read_text(encoding='utf-8') == ''.join(
        f'{path}\t{label}\n' for path, label in samples)
