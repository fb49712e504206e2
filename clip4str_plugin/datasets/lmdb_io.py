"""Scene-text recognition LMDBs in the standard layout (deep-text-recognition-benchmark, PARSeq,
CLIP4STR, MMOCR's ``RecogLMDBDataset``): ``num-samples``, ``label-%09d``, ``image-%09d``, from 1."""
import os
from typing import Iterable, Iterator, Tuple

import lmdb


class LMDBWriter:
    """Append (encoded image bytes, label) pairs; ``num-samples`` is written on close.

    Use as a context manager. Writes are committed every ``commit_every`` samples, so a killed
    writer leaves a readable LMDB of what was committed (with its own ``num-samples``).
    """

    def __init__(self, path: str, map_size: int = 1 << 36, commit_every: int = 1000):
        os.makedirs(path, exist_ok=True)
        self.path = path
        self.env = lmdb.open(path, map_size=map_size, subdir=True, lock=False)
        self.count = 0
        self.commit_every = commit_every
        self._txn = self.env.begin(write=True)

    def add(self, image: bytes, label: str) -> None:
        self.count += 1
        self._txn.put(b'image-%09d' % self.count, image)
        self._txn.put(b'label-%09d' % self.count, label.encode('utf-8'))
        if self.count % self.commit_every == 0:
            self._commit()

    def _commit(self) -> None:
        self._txn.put(b'num-samples', str(self.count).encode())
        self._txn.commit()
        self._txn = self.env.begin(write=True)

    def close(self) -> None:
        self._commit()
        self._txn.abort()
        self.env.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def write_lmdb(path: str, samples: Iterable[Tuple[bytes, str]]) -> int:
    """Write every ``(image bytes, label)``; returns the number written."""
    with LMDBWriter(path) as writer:
        for image, label in samples:
            writer.add(image, label)
        return writer.count


def find_lmdbs(root: str) -> list:
    """Every LMDB directory (holding ``data.mdb``) at or below ``root``, sorted."""
    if not os.path.isdir(root):
        raise FileNotFoundError(f'LMDB root not found: {root}')
    found = sorted(dirpath for dirpath, _, files in os.walk(root, followlinks=True)
                   if 'data.mdb' in files)
    if not found:
        raise FileNotFoundError(f'no LMDB (a folder with data.mdb) at or below {root}')
    return found


def open_lmdb(path: str) -> lmdb.Environment:
    """Open read-only, as MMOCR does (no lock, no readahead)."""
    return lmdb.open(path, readonly=True, lock=False, readahead=False, meminit=False,
                     max_readers=32, subdir=True)


def iter_labels(path: str) -> Iterator[Tuple[int, str]]:
    """``(index, label)`` for every sample of one LMDB, without reading images."""
    env = open_lmdb(path)
    try:
        with env.begin(write=False) as txn:
            raw = txn.get(b'num-samples')
            if raw is None:
                raise ValueError(f'{path} is not a recognition LMDB: no num-samples key')
            for index in range(1, int(raw) + 1):
                label = txn.get(b'label-%09d' % index)
                yield index, '' if label is None else label.decode('utf-8', 'replace')
    finally:
        env.close()
