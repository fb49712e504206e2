"""Bad command lines end the tools with one line (``error: ...``, exit status 1): garbage LMDBs,
non-positive counts, unknown devices, files where folders go, missing configs, process counts
of the launch scripts, a full disk; and num_workers=0 works with every shipped loader."""
import argparse
import errno
import os
import subprocess

import cv2
import lmdb
import numpy as np
import pytest
import torch

from clip4str_plugin import fileio
from clip4str_plugin.errors import DataError
from clip4str_plugin.datasets.lmdb_io import LMDBWriter, iter_labels
from clip4str_plugin.datasets.str_lmdb_dataset import STRLMDBDataset
from clip4str_plugin.cli.launch import load_config
from conftest import CONFIGS, ROOT, TINY_CONFIG, run_tool

GARBAGE = bytes(range(256)) * 40      # 10 KiB that LMDB does not take for a database


@pytest.fixture
def files(tmp_path, monkeypatch):
    """An image, a file, a checkpoint path (never read by these checks); tools/ importable."""
    monkeypatch.syspath_prepend(str(ROOT / 'tools'))
    cv2.imwrite(str(tmp_path / 'word.png'), np.full((32, 100, 3), 200, np.uint8))
    (tmp_path / 'afile').write_text('not a folder\n')
    return dict(image=str(tmp_path / 'word.png'), file=str(tmp_path / 'afile'),
                ckpt=str(tmp_path / 'unread.pth'))


def garbage_lmdb(folder):
    folder.mkdir(parents=True)
    (folder / 'data.mdb').write_bytes(GARBAGE)
    return folder


def test_a_garbage_lmdb_is_one_line_and_overwrite_replaces_it(tmp_path, monkeypatch):
    bad = garbage_lmdb(tmp_path / 'synth' / 'test')
    with pytest.raises(DataError) as err:
        STRLMDBDataset(ann_file=str(bad), name='synth-test')
    assert str(err.value) == (f'{bad}: cannot open the LMDB (MDB_INVALID: File is not an LMDB '
                              'file): its data.mdb is damaged or not an LMDB; write it again '
                              '(tools/make_lmdb.py or make_synth_lmdb.py with --overwrite)')
    # tools/train.py and test.py print a DataError as `error: <message>` (test_train_tools)
    images, labels = tmp_path / 'images', tmp_path / 'labels.txt'
    images.mkdir()
    cv2.imwrite(str(images / '0.png'), np.full((20, 50, 3), 90, np.uint8))
    labels.write_text('0.png\thello\n')
    assert run_tool('make_lmdb.py', images, labels, bad, monkeypatch=monkeypatch) == \
        f'error: {bad} already holds a damaged LMDB (its data.mdb does not open); not ' \
        'overwritten: ' \
        'pass --overwrite to replace it'
    assert run_tool('make_lmdb.py', images, labels, bad, '--overwrite',
                    monkeypatch=monkeypatch) == ''
    assert list(iter_labels(str(bad))) == [(1, 'hello')]
    assert run_tool('make_lmdb.py', images, labels, tmp_path / 'labels.txt',
                    monkeypatch=monkeypatch) == \
        f'error: {labels} is a file, not a folder: an LMDB is a folder (data.mdb, lock.mdb); ' \
        'give a folder'


@pytest.mark.parametrize('tool, args, message', [
    ('infer.py', ['{ckpt}', '{image}', '--batch-size', '0'], '--batch-size must be a positive '
     'whole number, got 0'),
    ('test.py', [TINY_CONFIG, '{ckpt}', '--batch-size', '0'], '--batch-size must be a positive '
     'whole number, got 0'),
    ('test.py', [TINY_CONFIG, '{ckpt}', '--batch-size', '-1'], '--batch-size must be a '
     'positive whole number, got -1'),
    ('benchmark.py', [TINY_CONFIG, '--batch-sizes', '8', '0'], '--batch-sizes must be a '
     'positive whole number, got 0'),
    ('train.py', [TINY_CONFIG, '--cfg-options', 'train_dataloader.batch_size=0'],
     'train_dataloader.batch_size must be a positive whole number, got 0'),
    ('make_synth_lmdb.py', ['{tmp}/out', '--num', '0'], '--num must be a positive whole '
     'number, got 0'),
    ('infer.py', ['{ckpt}', '{image}', '--device', 'foo'], '--device foo: not a device (cpu, '
     'cuda, cuda:1 ...)'),
    ('visualize_attention.py', ['{image}', '--weights', '{ckpt}', '--device', 'cuda:x',
                                '--out-dir', '{tmp}/vis'],
     '--device cuda:x: not a device (cpu, cuda, cuda:1 ...)'),
    ('benchmark.py', [TINY_CONFIG, '--device', 'foo'], '--device foo: not a device (cpu, '
     'cuda, cuda:1 ...)'),
    ('extract_orp_bank.py', ['{tmp}', '{tmp}/bank.npy', '--config', TINY_CONFIG, '--device',
                             'gpu'], '--device gpu: not a device (cpu, cuda, cuda:1 ...)'),
    ('infer.py', ['{ckpt}', '{image}', '--out-dir', '{file}'], '--out-dir {file} is a file, '
     'not a folder: give a folder (created when missing)'),
    ('visualize_attention.py', ['{image}', '--weights', '{ckpt}', '--out-dir', '{file}/x'],
     '--out-dir {file}/x: {file} is a file, so no folder can be made in it'),
    ('export_onnx.py', [TINY_CONFIG, '{ckpt}', '{file}'], 'OUT_DIR {file} is a file, not a '
     'folder: give a folder (created when missing)'),
    ('train.py', [TINY_CONFIG, '--work-dir', '{file}'], '--work-dir {file} is a file, not a '
     'folder: give a folder (created when missing)'),
    ('test.py', [TINY_CONFIG, '{ckpt}', '--show-dir', '{file}'], '--show-dir {file} is a '
     'file, not a folder: give a folder (created when missing)'),
    ('test.py', [TINY_CONFIG, '{ckpt}', '--show-dir', '{file}/vis'], '--show-dir {file}/vis: '
     '{file} is a file, so no folder can be made in it'),
    ('benchmark.py', [TINY_CONFIG, '--out', '{tmp}'], '--out {tmp} is a folder: give the name '
     'of the file to write'),
    ('test.py', [TINY_CONFIG, '{ckpt}', '--save-preds', '{file}/p.pkl'], '--save-preds '
     '{file}/p.pkl: {file} is a file, so no folder can be made in it'),
    ('convert_clip4str_ckpt.py', ['{ckpt}', '{tmp}'], 'DST {tmp} is a folder: give the name '
     'of the file to write'),
    ('export_clip.py', ['{ckpt}', '{file}/clip.safetensors'], 'OUT {file}/clip.safetensors: '
     '{file} is a file, so no folder can be made in it'),
    ('train.py', ['{tmp}/none.py'], 'config not found: {tmp}/none.py'),
    ('convert_clip4str_ckpt.py', ['{ckpt}', '{tmp}/out.pth', '--config', '{tmp}/none.py'],
     '--config not found: {tmp}/none.py'),
    ('test.py', ['{tmp}/none.py', '{ckpt}'], 'config not found: {tmp}/none.py'),
    ('benchmark.py', ['{tmp}/none.py'], 'config not found: {tmp}/none.py'),
    ('export_onnx.py', ['{tmp}/none.py', '{ckpt}', '{tmp}/out'], 'config not found: '
     '{tmp}/none.py'),
    ('infer.py', ['{ckpt}', '{image}', '--config', '{tmp}/none.py'], '--config not found: '
     '{tmp}/none.py'),
    ('extract_orp_bank.py', ['{tmp}', '{tmp}/bank.npy', '--config', '{tmp}'], '--config {tmp} '
     'is a folder, not a config file'),
])
def test_tool_arguments_are_refused_in_one_line(tool, args, message, files, tmp_path,
                                                monkeypatch):
    fill = dict(files, tmp=str(tmp_path))
    got = run_tool(tool, *[str(a).format(**fill) for a in args], monkeypatch=monkeypatch)
    assert got == f'error: {message.format(**fill)}'


@pytest.mark.parametrize('tool, args, option', [
    ('test.py', [TINY_CONFIG, '{ckpt}', '--show-dir', '{tmp}/ro/vis'], '--show-dir {tmp}/ro/vis'),
    ('test.py', [TINY_CONFIG, '{ckpt}', '--work-dir', '{tmp}/ro'], '--work-dir {tmp}/ro'),
    ('benchmark.py', [TINY_CONFIG, '--out', '{tmp}/ro/b.json'], '--out {tmp}/ro/b.json'),
])
def test_an_unwritable_folder_is_one_line(tool, args, option, files, tmp_path, monkeypatch):
    """A folder the user may not write (read-only here through ``os.access``: the tests run
    as root, whom permissions do not stop) is refused before anything is built."""
    (tmp_path / 'ro').mkdir()
    real_access = os.access
    monkeypatch.setattr(os, 'access', lambda path, mode: real_access(path, mode) and not str(
        path).endswith('ro'))
    fill = dict(files, tmp=str(tmp_path))
    got = run_tool(tool, *[str(a).format(**fill) for a in args], monkeypatch=monkeypatch)
    assert got == (f'error: {option.format(**fill)}: {tmp_path}/ro is not writable; give a '
                   'folder you can write to')


def test_a_missing_gpu_is_one_line(files, monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    got = run_tool('infer.py', files['ckpt'], files['image'], '--device', 'cuda',
                   monkeypatch=monkeypatch)
    assert got.startswith('error: --device cuda: cuda is not available here (')
    assert got.endswith('); use --device cpu')


@pytest.mark.parametrize('config', sorted(p.name for p in (CONFIGS / 'dptr').glob('[!_]*.py')))
def test_num_workers_0_with_the_dptr_configs(config):
    """Every DPTR loader with --cfg-options num_workers=0: persistent_workers is turned off,
    and PyTorch's DataLoader takes the settings (it refuses persistent workers without any)."""
    options = {f'{name}.num_workers': 0 for name in ('train_dataloader', 'val_dataloader',
                                                      'test_dataloader')}
    args = argparse.Namespace(config=str(CONFIGS / 'dptr' / config), cfg_options=options,
                              launcher='none', work_dir=None, local_rank=0)
    cfg = load_config(args)
    for name in options:
        loader = cfg.get(name.split('.')[0])
        if loader:
            assert loader.num_workers == 0 and not loader.get('persistent_workers')
            torch.utils.data.DataLoader(range(4), batch_size=2, num_workers=0,
                                        persistent_workers=loader.get('persistent_workers',
                                                                      False))


def launch_script(*args, **env):
    out = subprocess.run(['bash', str(ROOT / 'tools' / args[0]), *map(str, args[1:])],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, 'PYTHON': 'false', **env})
    return out.returncode, out.stderr


@pytest.mark.parametrize('args, env, message', [
    (['dist_train.sh', TINY_CONFIG, '0'], {}, "NUM_PROCS must be a positive whole number, "
     "got '0'"),
    (['dist_test.sh', TINY_CONFIG, 'k.pth', '-1'], {}, "NUM_PROCS must be a positive whole "
     "number, got '-1'"),
    (['dist_train.sh', TINY_CONFIG, '2'], {'NNODES': 'two'}, "NNODES must be a positive whole "
     "number, got 'two'"),
    (['slurm_train.sh', 'p', 'job', TINY_CONFIG, 'work'], {'GPUS': '0'}, "GPUS must be a "
     "positive whole number, got '0'"),
    (['slurm_test.sh', 'p', 'job', TINY_CONFIG, 'k.pth'], {'GPUS_PER_NODE': '1.5'},
     "GPUS_PER_NODE must be a positive whole number, got '1.5'"),
    (['dist_train.sh', 'none.py', '2'], {}, 'config not found: none.py'),
    (['dist_test.sh', CONFIGS, 'k.pth', '2'], {}, f'config {CONFIGS} is a folder, not a config '
     'file'),
    (['slurm_train.sh', 'p', 'job', 'none.py', 'work'], {}, 'config not found: none.py'),
    (['slurm_test.sh', 'p', 'job', 'none.py', 'k.pth'], {}, 'config not found: none.py'),
])
def test_launch_scripts_refuse_counts_and_missing_configs(args, env, message):
    assert launch_script(*args, **env) == (1, f'error: {message}\n')


def test_a_full_disk_is_one_line(tmp_path, monkeypatch, files):
    """ENOSPC / EDQUOT while a checkpoint, export or bank file is written (write_atomically)
    or while an LMDB is written: one line naming the file; nothing is left behind."""
    def full(*_):
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(fileio.os, 'fsync', full)
    with pytest.raises(fileio.NoSpaceError) as err:
        fileio.write_atomically(str(tmp_path / 'iter_4.pth'), b'weights')
    assert str(err.value) == f'no space left on device while writing {tmp_path / "iter_4.pth"}'
    assert err.value.errno == errno.ENOSPC and not list(tmp_path.glob('*.pth*'))
    monkeypatch.undo()
    monkeypatch.syspath_prepend(str(ROOT / 'tools'))
    monkeypatch.setattr(LMDBWriter, 'add', full_lmdb)
    labels = tmp_path / 'labels.txt'
    labels.write_text('word.png\thello\n')
    assert run_tool('make_lmdb.py', tmp_path, labels, tmp_path / 'out',
                    monkeypatch=monkeypatch) == \
        f'error: no space left on device while writing {tmp_path / "out"}: it is incomplete ' \
        'and ' \
        'will not load; free space, then run again with --overwrite'


def full_lmdb(*_):
    raise lmdb.DiskError('mdb_put: No space left on device')
