"""One training run per work dir: the lock refuses a second holder and ends with its process."""
import subprocess
import sys

import pytest

from clip4str_plugin.cli.run_lock import LOCK_FILE, WorkDirBusyError, first_process, \
    lock_work_dir


def test_a_second_holder_is_refused_until_the_first_lets_go(tmp_path):
    work = tmp_path / 'work'
    held = lock_work_dir(str(work))
    with pytest.raises(WorkDirBusyError, match=f'^{work} is in use by another training run '
                       r'\(pid \d+\); give another --work-dir'):
        lock_work_dir(str(work))
    held.close()
    lock_work_dir(str(work)).close()


def test_a_killed_holder_leaves_the_work_dir_free(tmp_path):
    child = subprocess.Popen([sys.executable, '-c', (
        'import time, clip4str_mmcv_lite; from clip4str_plugin.cli.run_lock import '
        'lock_work_dir; '
        f'h = lock_work_dir({str(tmp_path)!r}); print("held", flush=True); time.sleep(60)')],
        stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == 'held'
    with pytest.raises(WorkDirBusyError, match=f'pid {child.pid}'):
        lock_work_dir(str(tmp_path))
    child.kill()
    child.wait(timeout=30)
    assert (tmp_path / LOCK_FILE).is_file()        # left behind, and no obstacle
    lock_work_dir(str(tmp_path)).close()


def test_only_rank_0_of_a_launch_holds_the_lock(monkeypatch):
    monkeypatch.setenv('RANK', '1')
    assert not first_process('pytorch') and first_process('none')
    monkeypatch.setenv('RANK', '0')
    assert first_process('pytorch')
