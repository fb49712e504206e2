"""One training run per work dir: ``tools/train.py`` holds an exclusive lock on
``<work_dir>/.run.lock`` while it runs, so a second run started into the same folder stops at
once instead of writing its checkpoints over the first one's.

The lock is ``fcntl.flock`` on an open file: the kernel releases it when the process ends, however
it ends, so a crashed run leaves nothing to clean up and ``--resume`` after it simply works. The
file holds the holder's pid, for the message.
"""
import fcntl
import os
import os.path as osp
from typing import IO

LOCK_FILE = '.run.lock'


class WorkDirBusyError(RuntimeError):
    """The work dir is held by another running process."""


def lock_work_dir(work_dir: str) -> IO:
    """Hold ``work_dir``'s lock (the folder is created); returns the open lock file, which must
    stay open for the run (the lock ends with it). :class:`WorkDirBusyError` when another
    process holds it."""
    os.makedirs(work_dir, exist_ok=True)
    handle = open(osp.join(work_dir, LOCK_FILE), 'a+')
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip()
        handle.close()
        raise WorkDirBusyError(
            f'{work_dir} is in use by another training run'
            + (f' (pid {holder})' if holder else '')
            + '; give another --work-dir, or wait until that run ends') from None
    handle.seek(0)
    handle.truncate()
    handle.write(f'{os.getpid()}\n')
    handle.flush()
    return handle


def first_process(launcher: str) -> bool:
    """Whether this process is rank 0 of its launch (or the only process), read from the
    launcher's environment before any process group exists."""
    variable = {'pytorch': 'RANK', 'slurm': 'SLURM_PROCID',
                'mpi': 'OMPI_COMM_WORLD_RANK'}.get(launcher)
    return not variable or int(os.environ.get(variable, '0')) == 0
