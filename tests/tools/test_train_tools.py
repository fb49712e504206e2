"""tools/train.py through the MMEngine Runner: 2-process DDP on CPU (gloo), kill and resume,
and tools/test.py's table, on a few rendered words."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT

CONFIG = str(ROOT / 'configs' / 'clip4str' / 'clip4str_tiny_synth.py')
FAST = ['train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
        'test_dataloader.num_workers=0', 'default_hooks.logger.interval=1',
        'model.decoder.refine_iters=0']


@pytest.fixture(scope='module')
def synth_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('synth')
    for split, num in (('train', 64), ('val', 8), ('test', 8)):
        subprocess.run([sys.executable, str(ROOT / 'tools' / 'make_synth_lmdb.py'),
                        str(root / split), '--split', split, '--num', str(num),
                        '--workers', '1'], check=True, capture_output=True, timeout=300)
    return root


def env(synth_root):
    return dict(os.environ, SYNTH_DATA_ROOT=str(synth_root), PYTHON=sys.executable,
                OMP_NUM_THREADS='1')


def train_cmd(work_dir, *options):
    return [sys.executable, str(ROOT / 'tools' / 'train.py'), CONFIG, '--work-dir',
            str(work_dir), '--cfg-options', *FAST, *options]


def test_two_process_ddp_training_on_cpu(synth_root, tmp_path):
    out = subprocess.run(
        ['bash', str(ROOT / 'tools' / 'dist_train.sh'), CONFIG, '2', '--work-dir',
         str(tmp_path), '--cfg-options', *FAST, 'train_cfg.max_iters=3',
         'train_cfg.val_interval=3', 'default_hooks.checkpoint.interval=3',
         'param_scheduler.0.total_steps=3'],
        env=dict(env(synth_root), PORT='29517'), capture_output=True, text=True, timeout=600,
        cwd=str(tmp_path))
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-3000:]
    assert 'Distributed training: True' in log and "'backend': 'gloo'" in log
    assert re.search(r'GPU number: 2|world_size: 2', log), log[-2000:]
    assert 'Iter(train) [3/3]' in log
    assert (tmp_path / 'iter_3.pth').is_file()


def test_killed_run_resumes_from_its_last_checkpoint(synth_root, tmp_path):
    # a long run, killed with SIGKILL once a checkpoint exists
    proc = subprocess.Popen(train_cmd(tmp_path, 'max_iters=1000',
                                      'train_cfg.val_interval=1000',
                                      'default_hooks.checkpoint.interval=2'),
                            env=env(synth_root), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=str(tmp_path))
    last = tmp_path / 'last_checkpoint'
    deadline = time.time() + 400
    while not (last.is_file() and 'iter_4' in last.read_text()) and time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail('training stopped before it could be killed')
        time.sleep(0.5)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    saved = int(re.search(r'iter_(\d+)\.pth', last.read_text()).group(1))
    assert saved >= 4
    out = subprocess.run(train_cmd(tmp_path, f'max_iters={saved + 2}', 'resume_rescale=True',
                                   'train_cfg.val_interval=1000',
                                   'default_hooks.checkpoint.interval=2') + ['--resume'],
                         env=env(synth_root), capture_output=True, text=True, timeout=600,
                         cwd=str(tmp_path))
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-3000:]
    assert f'resumed epoch: 0, iter: {saved}' in log
    assert f'Iter(train) [{saved + 1}/{saved + 2}]' in log
    assert 'Iter(train) [1/' not in log
    assert (tmp_path / f'iter_{saved + 2}.pth').is_file()

    # tools/test.py loads the checkpoint (weights-only) and prints the table
    test = subprocess.run([sys.executable, str(ROOT / 'tools' / 'test.py'), CONFIG,
                           str(tmp_path / f'iter_{saved + 2}.pth'), '--work-dir', str(tmp_path),
                           '--cfg-options', *FAST],
                          env=env(synth_root), capture_output=True, text=True, timeout=600,
                          cwd=str(tmp_path))
    assert test.returncode == 0, (test.stdout + test.stderr)[-3000:]
    assert re.search(r'\| synth-test \| \d+ \| [\d.]+ \|', test.stdout), test.stdout[-2000:]
    assert 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD' not in os.environ
