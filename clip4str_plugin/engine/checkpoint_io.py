"""Crash-safe checkpoints: atomic writes, safe rotation, resuming from the newest intact one.

MMEngine's ``CheckpointHook`` writes through a file backend, in place: a run killed (or a machine
losing power) while ``iter_N.pth`` is written leaves a damaged file under a checkpoint's name; and
it removes the oldest checkpoint *before* writing the new one, so a run killed in between keeps
one checkpoint fewer (none with ``max_keep_ckpts=1``). :class:`AtomicLocalBackend` (registered as
``'atomic_local'``; ``configs/_base_/default_runtime.py`` sets it in
``default_hooks.checkpoint.backend_args``) writes each file to a temporary name in the same folder,
flushes it to disk and renames it into place (readers see the previous file or the complete new
one), and holds back a removal until the next write to that folder is complete.

:func:`find_resumable_checkpoint` is ``--resume`` without a file: MMEngine's choice (the file
named in ``last_checkpoint``, which MMEngine writes itself) when it is intact, else the newest
intact ``iter_*`` / ``epoch_*`` checkpoint of the run, with a warning naming what was skipped.
"""
import contextlib
import logging
import glob
import os
import os.path as osp
import re
from typing import Dict, Optional, Set

from mmengine.fileio import LocalBackend, register_backend
from mmengine.logging import print_log
from mmengine.runner.checkpoint import find_latest_checkpoint

from ..fileio import write_atomically
from ..weights.errors import CheckpointReadError
from ..weights.loading import checkpoint_problem


_HELD_BACK: Dict[str, Set[str]] = {}     # folder -> files whose removal waits for a write there


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """MMEngine's local file backend whose writes are atomic and whose removals wait until the
    next write to the same folder is complete (as CheckpointHook removes, then saves)."""

    def put(self, obj: bytes, filepath) -> None:
        write_atomically(filepath, obj)
        self._remove_held_back(filepath)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        self.put(obj.encode(encoding), filepath)

    def remove(self, filepath) -> None:
        if not self.isfile(filepath):
            super().remove(filepath)                # MMEngine's errors
        path = osp.abspath(os.fspath(filepath))
        _HELD_BACK.setdefault(osp.dirname(path), set()).add(path)

    @staticmethod
    def _remove_held_back(written) -> None:
        written = osp.abspath(os.fspath(written))
        for path in _HELD_BACK.pop(osp.dirname(written), set()) - {written}:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def _step(path: str) -> int:
    match = re.fullmatch(r'(?:iter|epoch)_(\d+)\.pth', osp.basename(path))
    return int(match.group(1)) if match else -1


def find_resumable_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` continues from: the one ``last_checkpoint`` names (taken from
    ``work_dir`` wherever it is now, by the file's name) if it is intact, else the newest intact
    ``iter_*.pth`` / ``epoch_*.pth`` of the run (warning which file was skipped and why). None
    when the work dir has no ``last_checkpoint`` (a fresh start, as in MMEngine);
    :class:`~..weights.errors.CheckpointReadError` when no checkpoint is intact."""
    if not osp.isfile(osp.join(work_dir, 'last_checkpoint')):
        return find_latest_checkpoint(work_dir)     # None, with MMEngine's message
    latest = find_latest_checkpoint(work_dir)
    folder = work_dir
    if not latest:
        latest, problem = osp.join(work_dir, 'last_checkpoint'), 'it names no checkpoint'
    else:
        # MMEngine records the absolute path; the file is looked for where the work dir is now
        # (a moved dir still finds its files, a copy never resumes from the original's)
        latest = osp.join(work_dir, osp.basename(latest))
        problem = checkpoint_problem(latest) if osp.isfile(latest) else 'the file is missing'
        if problem is None:
            return latest
    candidates = sorted((p for p in glob.glob(osp.join(glob.escape(folder), '*.pth'))
                         if _step(p) >= 0 and osp.abspath(p) != osp.abspath(latest)),
                        key=_step, reverse=True)
    for candidate in candidates:
        if checkpoint_problem(candidate) is None:
            print_log(f'not resuming from {latest}: {problem}; resuming from {candidate}, the '
                      'newest intact checkpoint', logger='current', level=logging.WARNING)
            return candidate
    raise CheckpointReadError(f'cannot resume: {latest} is unusable ({problem}) and no intact '
                              f'iter_*/epoch_* checkpoint is left in {folder}')
