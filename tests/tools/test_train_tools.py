"""tools/train.py through the MMEngine Runner: 2-process DDP on CPU (gloo), kill and resume
(from the newest intact checkpoint), tools/test.py's table, and both tools on broken
checkpoints, on a few rendered words."""
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

from broken_checkpoints import EXPECTED, broken_checkpoints
from clip4str_plugin.weights.loading import checkpoint_problem
from conftest import ROOT, run_python

CONFIG = str(ROOT / 'configs' / 'clip4str' / 'clip4str-tiny_3k_synth.py')
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


def test_killed_run_resumes_from_its_newest_intact_checkpoint(synth_root, tmp_path):
    # a long run, killed with SIGKILL once a checkpoint exists
    first = tmp_path / 'run'
    proc = subprocess.Popen(train_cmd(first, 'max_iters=1000',
                                      'train_cfg.val_interval=1000',
                                      'default_hooks.checkpoint.interval=2'),
                            env=env(synth_root), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=str(tmp_path))
    last = first / 'last_checkpoint'
    deadline = time.time() + 400
    while not (last.is_file() and 'iter_4' in last.read_text()) and time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail('training stopped before it could be killed')
        time.sleep(0.5)
    # a second run into the same work dir while the first one trains: one line, exit 1
    second = subprocess.run(train_cmd(first, 'max_iters=4'), env=env(synth_root),
                            capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    assert second.returncode == 1 and 'Traceback' not in second.stderr, second.stderr[-3000:]
    assert second.stderr.rstrip().splitlines()[-1] == (
        f'error: {first} is in use by another training run (pid {proc.pid}); give another '
        '--work-dir, or wait until that run ends')
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    # the work dir moved: its last_checkpoint names the old place, resume finds the files here
    work = tmp_path / 'moved'
    first.rename(work)
    last = work / 'last_checkpoint'
    saved = int(re.search(r'iter_(\d+)\.pth', last.read_text()).group(1))
    assert saved >= 4
    steps = sorted(int(p.stem[5:]) for p in work.glob('iter_*.pth'))
    for step in steps:                          # saved crash-safe: none damaged by the kill
        assert checkpoint_problem(str(work / f'iter_{step}.pth')) is None, step
    newest = work / f'iter_{saved}.pth'     # then damaged (a bad copy, a disk fault)
    newest.write_bytes(newest.read_bytes()[:newest.stat().st_size // 2])
    older = max(step for step in steps if step != saved)   # kept: rotation waits for writes
    end = max(steps) + 2
    out = subprocess.run(train_cmd(work, f'max_iters={end}', 'resume_rescale=True',
                                   'train_cfg.val_interval=1000',
                                   'default_hooks.checkpoint.interval=2') + ['--resume'],
                         env=env(synth_root), capture_output=True, text=True, timeout=600,
                         cwd=str(work))
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-3000:]
    assert f'not resuming from {newest}: truncated' in log
    assert f'resuming from {work / f"iter_{older}.pth"}, the newest intact' in log
    assert f'resumed epoch: 0, iter: {older}' in log
    # MMEngine pads the iteration to the width of max_iters ('[ 9/12]')
    assert re.search(rf'Iter\(train\) \[ *{older + 1}/{end}\]', log), log[-3000:]
    assert not re.search(r'Iter\(train\) \[ *1/', log)
    assert (work / f'iter_{end}.pth').is_file()

    # tools/test.py loads the checkpoint (weights-only) and prints the table
    test = subprocess.run([sys.executable, str(ROOT / 'tools' / 'test.py'), CONFIG,
                           str(work / f'iter_{end}.pth'), '--work-dir', str(work),
                           '--cfg-options', *FAST],
                          env=env(synth_root), capture_output=True, text=True, timeout=600,
                          cwd=str(work))
    assert test.returncode == 0, (test.stdout + test.stderr)[-3000:]
    assert re.search(r'\| synth-test \| \d+ \| [\d.]+ \|', test.stdout), test.stdout[-2000:]
    assert 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD' not in os.environ
    # ... and refuses a damaged copy in one line on stderr, exit status 1, no traceback
    damaged = work / 'copied.pth'
    final = (work / f'iter_{end}.pth').read_bytes()
    damaged.write_bytes(final[:len(final) // 2])
    test = subprocess.run([sys.executable, str(ROOT / 'tools' / 'test.py'), CONFIG, str(damaged),
                           '--work-dir', str(work), '--cfg-options', *FAST],
                          env=env(synth_root), capture_output=True, text=True, timeout=600,
                          cwd=str(work))
    assert test.returncode == 1 and 'Traceback' not in test.stderr, test.stderr[-3000:]
    assert test.stderr.rstrip().splitlines()[-1].startswith(
        f'error: cannot read checkpoint {damaged}: truncated')


def exit_codes(runs, synth_root):
    """Run each ``{name: argv}`` tool main one after the other in one interpreter (as they run
    from the command line) with SYNTH_DATA_ROOT set; ``{name: SystemExit code or 'finished'}``."""
    out = run_python(f'''
        import json, os, runpy, sys
        os.environ['SYNTH_DATA_ROOT'] = {str(synth_root)!r}
        codes = {{}}
        for name, argv in {runs!r}.items():
            sys.argv = argv
            try:
                runpy.run_path(argv[0], run_name='__main__')
                codes[name] = 'finished'
            except SystemExit as exit:
                codes[name] = exit.code
        print('CODES', json.dumps(codes))
    ''')
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.split('CODES', 1)[1])


def test_both_tools_refuse_each_broken_checkpoint_in_one_line(synth_root, tmp_path):
    """train.py --resume CKPT and test.py CKPT on a truncated, an empty, a text and a DBNet
    checkpoint: each run ends with ``error: <one line>``."""
    good = tmp_path / 'good.pth'
    torch.save(dict(meta={}, state_dict={'w': torch.ones(4096)}), str(good))
    files = broken_checkpoints(tmp_path / 'broken', good)
    runs = {f'{tool} {case}': [str(ROOT / 'tools' / tool), CONFIG, *(
        ['--resume', str(path)] if tool == 'train.py' else [str(path)]), '--work-dir',
        str(tmp_path / 'work'), '--cfg-options', *FAST]
        for case, path in files.items() for tool in ('train.py', 'test.py')}
    for name, code in exit_codes(runs, synth_root).items():
        case = name.split()[1]
        assert isinstance(code, str) and code.startswith('error: '), (name, code)
        assert EXPECTED[case] in code and str(files[case]) in code and '\n' not in code, code


def test_both_tools_name_missing_data_in_one_line(tmp_path):
    """A data root that does not exist: train.py and test.py end with ``error: <one line>``
    naming the dataset and the path (a DataError), not the Runner's traceback."""
    good = tmp_path / 'good.pth'
    torch.save(dict(meta={}, state_dict={'w': torch.ones(4)}), str(good))
    missing = tmp_path / 'no_data'
    runs = {tool: [str(ROOT / 'tools' / tool), CONFIG, *([] if tool == 'train.py' else [str(good)]),
                   '--work-dir', str(tmp_path / 'work'), '--cfg-options', *FAST]
            for tool in ('train.py', 'test.py')}
    assert exit_codes(runs, missing) == {
        'train.py': f'error: synth-train: LMDB path not found: {missing}/train',
        'test.py': f'error: synth-test: LMDB path not found: {missing}/test'}
