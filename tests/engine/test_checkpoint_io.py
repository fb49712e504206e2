"""Crash-safe checkpoint writes and picking the checkpoint to resume from."""
import io
import logging
import multiprocessing
import os
import resource
import signal

import pytest
import torch
from mmengine.config import Config
from mmengine.fileio import LocalBackend
from mmengine.logging import MMLogger

from clip4str_plugin.engine.checkpoint_io import AtomicLocalBackend, find_resumable_checkpoint
from clip4str_plugin.weights.errors import CheckpointReadError
from clip4str_plugin.weights.loading import checkpoint_problem, load_checkpoint_file
from conftest import CONFIGS

LIMIT = 1 << 20     # the child may write files of at most 1 MiB: the kernel stops it there


def _write_with_size_limit(backend, data: bytes, path) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)           # Python ignores it by default
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))
    backend.put(data, path)


def save_killed_midway(backend, path) -> int:
    """Exit code of a child process that writes a 4 MiB checkpoint to ``path`` through
    ``backend`` and is killed by the kernel (SIGXFSZ) in the middle of the write."""
    buffer = io.BytesIO()
    torch.save({'state_dict': {'w': torch.ones(1 << 20)}}, buffer)
    child = multiprocessing.get_context('fork').Process(
        target=_write_with_size_limit, args=(backend, buffer.getvalue(), path))
    child.start()
    child.join(timeout=300)
    return child.exitcode


def test_an_interrupted_write_leaves_no_file_under_the_checkpoint_name(tmp_path):
    target = tmp_path / 'iter_4.pth'
    previous = {'state_dict': {'w': torch.arange(3.)}}
    torch.save(previous, str(tmp_path / 'previous.pth'))
    AtomicLocalBackend().put((tmp_path / 'previous.pth').read_bytes(), target)
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())  # as open() makes it
    assert save_killed_midway(AtomicLocalBackend(), target) == -signal.SIGXFSZ
    leftovers = list(tmp_path.glob('.iter_4.pth.*.tmp'))      # the write really was cut short
    assert len(leftovers) == 1 and leftovers[0].stat().st_size == LIMIT
    assert torch.equal(load_checkpoint_file(str(target))['state_dict']['w'], torch.arange(3.))
    # MMEngine's own backend, killed the same way, leaves a damaged file under the name
    plain = tmp_path / 'iter_6.pth'
    assert save_killed_midway(LocalBackend(), plain) == -signal.SIGXFSZ
    assert plain.stat().st_size == LIMIT and 'truncated' in checkpoint_problem(str(plain))
    # the next write of the same checkpoint removes what the interrupted one left
    AtomicLocalBackend().put_text('new', target)
    assert target.read_text() == 'new' and not list(tmp_path.glob('.iter_4.pth.*.tmp'))


def test_a_rotated_checkpoint_is_removed_once_the_next_one_is_written(tmp_path):
    """CheckpointHook removes the oldest checkpoint, then writes the new one: the removal waits
    for that write, so a run killed in between still has its checkpoints."""
    backend = AtomicLocalBackend()
    backend.put(b'2', tmp_path / 'iter_2.pth')
    backend.remove(str(tmp_path / 'iter_2.pth'))
    assert (tmp_path / 'iter_2.pth').is_file()                 # killed here: still resumable
    AtomicLocalBackend().put(b'4', tmp_path / 'iter_4.pth')     # the Runner's own instance
    assert not (tmp_path / 'iter_2.pth').exists() and (tmp_path / 'iter_4.pth').read_bytes() == b'4'
    with pytest.raises(FileNotFoundError):
        backend.remove(str(tmp_path / 'absent.pth'))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_the_shipped_configs_write_checkpoints_atomically():
    for config in ('clip4str/clip4str-tiny_3k_synth.py', 'clip4str/clip4str-b16_16e_real.py',
                   'dptr/dptr_pretrain_tiny_synth.py'):
        hook = Config.fromfile(str(CONFIGS / config)).default_hooks.checkpoint
        assert hook.backend_args == dict(backend='atomic_local'), config


def write_run(folder, damaged=()):
    """iter_2/4/6.pth of a run, last_checkpoint naming iter_6; ``damaged`` ones truncated."""
    for step in (2, 4, 6):
        path = folder / f'iter_{step}.pth'
        torch.save({'meta': {'iter': step}, 'state_dict': {'w': torch.ones(256)}}, str(path))
        if step in damaged:
            path.write_bytes(path.read_bytes()[:300])
    (folder / 'last_checkpoint').write_text(str(folder / 'iter_6.pth'))


def test_resume_skips_a_damaged_newest_checkpoint(tmp_path):
    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        assert find_resumable_checkpoint(str(tmp_path)) is None      # nothing to resume
        write_run(tmp_path)
        assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_6.pth')
        assert not messages
        write_run(tmp_path, damaged=(6, ))
        assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_4.pth')
        assert len(messages) == 1 and messages[0].startswith(
            f'not resuming from {tmp_path / "iter_6.pth"}: truncated')
        assert 'resuming from' in messages[0] and 'iter_4.pth' in messages[0]
        write_run(tmp_path)
        (tmp_path / 'last_checkpoint').write_text('')          # cut short while written
        messages.clear()
        assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_6.pth')
        assert 'last_checkpoint: it names no checkpoint' in messages[0]
        write_run(tmp_path, damaged=(2, 4, 6))
        with pytest.raises(CheckpointReadError, match='no intact iter_\\*/epoch_\\* checkpoint'):
            find_resumable_checkpoint(str(tmp_path))
    finally:
        logger.removeHandler(handler)


def test_a_moved_or_copied_work_dir_resumes_from_its_own_checkpoints(tmp_path):
    original = tmp_path / 'run'
    original.mkdir()
    write_run(original)                        # last_checkpoint holds an absolute path
    moved = tmp_path / 'moved'
    original.rename(moved)
    assert find_resumable_checkpoint(str(moved)) == str(moved / 'iter_6.pth')
    copy = tmp_path / 'copy'
    copy.mkdir()
    write_run(copy)
    (copy / 'last_checkpoint').write_text(str(moved / 'iter_6.pth'))   # as a copy has it
    assert find_resumable_checkpoint(str(copy)) == str(copy / 'iter_6.pth')
    (copy / 'iter_6.pth').unlink()             # never the original's file
    assert find_resumable_checkpoint(str(copy)) == str(copy / 'iter_4.pth')
