"""tools/slurm_train.sh and slurm_test.sh build MMOCR's srun command (a fake srun on PATH)."""
import os
import stat
import subprocess

import pytest

from conftest import ROOT

FAKE_SRUN = '#!/usr/bin/env bash\nprintf "%s\\0" "$@"\n'


def run(tmp_path, name, *args, **env):
    """The arguments srun would get from ``tools/<name> args`` (run in ``tmp_path``, where
    the configs ``x.py`` and ``c.py`` exist)."""
    for config in ('x.py', 'c.py'):
        (tmp_path / config).write_text('')
    srun = tmp_path / 'bin' / 'srun'
    srun.parent.mkdir(exist_ok=True)
    srun.write_text(FAKE_SRUN)
    srun.chmod(srun.stat().st_mode | stat.S_IXUSR)
    base = {k: v for k, v in os.environ.items()
            if k not in ('GPUS', 'GPUS_PER_NODE', 'CPUS_PER_TASK', 'SRUN_ARGS', 'PYTHON')}
    out = subprocess.run(['bash', str(ROOT / 'tools' / name), *args], capture_output=True,
                         text=True, timeout=60, cwd=tmp_path,
                         env={**base, 'PATH': f'{srun.parent}{os.pathsep}{base["PATH"]}', **env})
    assert out.returncode == 0, out.stderr
    return out.stdout.split('\0')[:-1]


def srun_options(partition, job, gpus, per_node, cpus):
    return ['-p', partition, f'--job-name={job}', f'--gres=gpu:{per_node}', f'--ntasks={gpus}',
            f'--ntasks-per-node={per_node}', f'--cpus-per-task={cpus}', '--kill-on-bad-exit=1']


def test_slurm_train_defaults(tmp_path):
    got = run(tmp_path, 'slurm_train.sh', 'gpu', 'b16', 'x.py', 'work_dirs/b16',
              '--amp', '--cfg-options', 'a=b c', PYTHON='/opt/py/bin/python')
    assert got == [*srun_options('gpu', 'b16', '8', '8', '5'), '/opt/py/bin/python', '-u',
                   str(ROOT / 'tools' / 'train.py'), 'x.py', '--work-dir',
                   'work_dirs/b16', '--launcher', 'slurm', '--amp', '--cfg-options', 'a=b c']


def test_slurm_test_with_the_environment(tmp_path):
    got = run(tmp_path, 'slurm_test.sh', 'p1', 'eval', 'x.py', 'ckpt.pth',
              '--reference-norm', GPUS='16', GPUS_PER_NODE='4', CPUS_PER_TASK='2',
              SRUN_ARGS='--quotatype=auto --time=10', PYTHON='python')
    assert got == [*srun_options('p1', 'eval', '16', '4', '2'), '--quotatype=auto',
                   '--time=10', 'python', '-u', str(ROOT / 'tools' / 'test.py'),
                   'x.py', 'ckpt.pth', '--launcher', 'slurm', '--reference-norm']


def test_one_gpu_job_and_the_project_venv(tmp_path):
    venv_python = tmp_path / 'venv' / 'bin' / 'python'
    venv_python.parent.mkdir(parents=True)
    venv_python.write_text('#!/bin/sh\n')
    venv_python.chmod(0o755)
    got = run(tmp_path, 'slurm_train.sh', 'gpu', 'j', 'c.py', 'w', GPUS='1',
              CLIP4STR_VENV=str(tmp_path / 'venv'))
    assert got[:8] == srun_options('gpu', 'j', '1', '1', '5')
    assert got[8] == str(venv_python)


@pytest.mark.parametrize('name, args', [('slurm_train.sh', ['p', 'j', 'c.py']),
                                        ('slurm_test.sh', ['p', 'j', 'c.py']),
                                        ('slurm_launch.sh', ['tools/train.py', 'p'])])
def test_usage(name, args):
    out = subprocess.run(['bash', str(ROOT / 'tools' / name), *args], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2 and out.stderr.startswith('usage: bash ')
