"""Scene-text recognition LMDBs in the standard layout (deep-text-recognition-benchmark, PARSeq,
CLIP4STR, MMOCR's ``RecogLMDBDataset``): ``num-samples``, ``label-%09d``, ``image-%09d``, from 1.

Our writer marks an LMDB as being written (key ``write-in-progress``, committed first) and
writes ``num-samples`` and removes the mark only when it closes cleanly, so an interrupted or
killed write never loads as complete; LMDBs of other tools have no mark and load as usual.
"""
import os
from contextlib import contextmanager
from typing import Iterable, Iterator, Optional, Tuple

import lmdb

from ..errors import DataError, DataNotFoundError, IncompleteLMDBError

IN_PROGRESS_KEY = b'write-in-progress'
LMDB_FILES = ('data.mdb', 'lock.mdb')


class LMDBExistsError(FileExistsError):
    """The output folder already holds a non-empty LMDB."""


def relative_path_hint(path: str) -> str:
    """For a relative data path: where it was looked for and which variables set the roots."""
    if os.path.isabs(path):
        return ''
    return (f' (relative to the current directory {os.getcwd()}; the configs read the data '
            'root from SYNTH_DATA_ROOT (rendered words) or STR_DATA_ROOT (the standard LMDBs) '
            'when set)')


def open_lmdb(path: str) -> lmdb.Environment:
    """Open read-only, as MMOCR does (no lock, no readahead); a ``data.mdb`` that LMDB cannot
    open (damaged, or not an LMDB) is a :class:`DataError`."""
    try:
        return lmdb.open(path, readonly=True, lock=False, readahead=False, meminit=False,
                         max_readers=32, subdir=True)
    except lmdb.Error as err:
        reason = str(err).replace(f'{path}: ', '', 1)
        raise DataError(f'{path}: cannot open the LMDB ({reason}): its data.mdb is damaged or '
                        'not an LMDB; write it again (tools/make_lmdb.py or make_synth_lmdb.py '
                        'with --overwrite)') from None


def describe_existing(path: str) -> str:
    """'' when ``path`` holds no LMDB or an empty one, else what it holds (one phrase)."""
    if not os.path.isfile(os.path.join(path, 'data.mdb')):
        return ''
    try:
        env = open_lmdb(path)
    except DataError:
        return 'a damaged LMDB (its data.mdb does not open)'
    try:
        with env.begin() as txn:
            if env.stat()['entries'] == 0:
                return ''
            if txn.get(IN_PROGRESS_KEY) is not None:
                return 'an incomplete LMDB (an interrupted write)'
            raw = txn.get(b'num-samples')
            return f'an LMDB of {raw.decode(errors="replace")} samples' if raw else 'an LMDB'
    finally:
        env.close()


class LMDBWriter:
    """Append (encoded image bytes, label) pairs. Use as a context manager.

    Refuses a folder that holds a non-empty LMDB (:class:`LMDBExistsError`) unless
    ``overwrite``, which first deletes its ``data.mdb`` / ``lock.mdb`` (nothing else in the
    folder). Samples are committed every ``commit_every``; ``num-samples`` is written, and the
    in-progress mark removed, only by a clean :meth:`close` (leaving the ``with`` block without
    an exception), so an interrupted writer leaves an LMDB that readers refuse as incomplete.
    """

    def __init__(self, path: str, overwrite: bool = False, map_size: int = 1 << 36,
                 commit_every: int = 1000):
        existing = describe_existing(path)
        if existing and not overwrite:
            raise LMDBExistsError(f'{path} already holds {existing}; not overwritten')
        for name in LMDB_FILES:
            if os.path.isfile(os.path.join(path, name)):
                os.remove(os.path.join(path, name))
        os.makedirs(path, exist_ok=True)
        self.path = path
        self.env = lmdb.open(path, map_size=map_size, subdir=True, lock=False)
        self.count = 0
        self.commit_every = commit_every
        with self.env.begin(write=True) as txn:
            txn.put(IN_PROGRESS_KEY, b'1')
        self._txn = self.env.begin(write=True)

    def add(self, image: bytes, label: str) -> None:
        self.count += 1
        self._txn.put(b'image-%09d' % self.count, image)
        self._txn.put(b'label-%09d' % self.count, label.encode('utf-8'))
        if self.count % self.commit_every == 0:
            self._txn.commit()
            self._txn = self.env.begin(write=True)

    def close(self) -> None:
        """Finish: ``num-samples`` written, the in-progress mark removed, all committed."""
        self._txn.put(b'num-samples', str(self.count).encode())
        self._txn.delete(IN_PROGRESS_KEY)
        self._txn.commit()
        self.env.close()

    def abandon(self) -> None:
        """Stop without finishing: the uncommitted samples are dropped, the mark stays."""
        self._txn.abort()
        self.env.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        self.close() if exc_type is None else self.abandon()
        return False


@contextmanager
def tool_writer(path: str, overwrite: bool) -> Iterator[LMDBWriter]:
    """An :class:`LMDBWriter` for command-line tools: an existing LMDB, a file in the folder's
    place, a full disk and Ctrl-C end the tool with one line (``SystemExit``) instead of a
    traceback."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise SystemExit(f'error: {path} is a file, not a folder: an LMDB is a folder (data.mdb, '
                         'lock.mdb); give a folder')
    try:
        writer = LMDBWriter(path, overwrite)
    except LMDBExistsError as err:
        raise SystemExit(f'error: {err}: pass --overwrite to replace it') from None
    try:
        with writer:
            yield writer
    except KeyboardInterrupt:
        raise SystemExit(f'\nerror: interrupted: {path} is incomplete and will not load; run again '
                         'with --overwrite') from None
    except lmdb.DiskError:    # LMDB's ENOSPC
        raise SystemExit(f'error: no space left on device while writing {path}: it is '
                         'incomplete and will not load; free space, then run again with '
                         '--overwrite') from None


def write_lmdb(path: str, samples: Iterable[Tuple[bytes, str]], overwrite: bool = False) -> int:
    """Write every ``(image bytes, label)``; returns the number written."""
    with LMDBWriter(path, overwrite) as writer:
        for image, label in samples:
            writer.add(image, label)
        return writer.count


def find_lmdbs(root: str) -> list:
    """Every LMDB directory (holding ``data.mdb``) at or below ``root``, sorted."""
    if not os.path.exists(root):
        raise DataNotFoundError(f'LMDB path not found: {root}{relative_path_hint(root)}')
    found = sorted(dirpath for dirpath, _, files in os.walk(root, followlinks=True)
                   if 'data.mdb' in files)
    if not found:
        raise DataNotFoundError(f'no LMDB (a folder with data.mdb) at or below {root}')
    return found


def num_samples(txn: lmdb.Transaction, path: str, entries: Optional[int] = None) -> int:
    """The LMDB's ``num-samples``, checked: a clear error for a missing or damaged count, for
    an LMDB our writer did not finish, and for a count above ``entries`` (the database's real
    number of keys, ``env.stat()['entries']``), which no sample loop should trust."""
    if txn.get(IN_PROGRESS_KEY) is not None:
        raise IncompleteLMDBError(
            f'{path} is an incomplete LMDB: its writer was interrupted before it finished; '
            'write it again (tools/make_lmdb.py or make_synth_lmdb.py with --overwrite)')
    raw = txn.get(b'num-samples')
    if raw is None:
        raise DataError(f'{path} is not a recognition LMDB: no num-samples key')
    text = raw.decode('utf-8', 'replace')
    try:
        count = int(text)
    except ValueError:
        count = -1
    if count < 0:
        raise DataError(f'{path}: num-samples is {text!r}, not a count of samples; the LMDB '
                        'is damaged or not a recognition LMDB')
    if entries is not None and count > entries - 1:
        raise DataError(f'{path}: num-samples claims {count} samples but the LMDB holds only '
                        f'{entries} keys (a sample is a label and an image): the LMDB is '
                        'damaged; write it again')
    return count


def iter_labels(path: str, undecodable: Optional[list] = None) -> Iterator[Tuple[int, str]]:
    """``(index, label)`` for every sample of one LMDB, without reading images; a missing
    label is ``''``. A label whose bytes are not UTF-8 is appended to ``undecodable`` as
    ``(index, bytes)`` and left out, or, with ``undecodable=None``, a :class:`DataError`."""
    env = open_lmdb(path)
    try:
        with env.begin(write=False) as txn:
            for index in range(1, num_samples(txn, path, env.stat()['entries']) + 1):
                label = txn.get(b'label-%09d' % index)
                try:
                    text = '' if label is None else label.decode('utf-8')
                except UnicodeDecodeError:
                    if undecodable is None:
                        raise DataError(f'{path}: label-{index:09d} is not UTF-8 '
                                        f'({label[:40]!r}); write the LMDB\'s labels in '
                                        'UTF-8') from None
                    undecodable.append((index, label))
                    continue
                yield index, text
    finally:
        env.close()
