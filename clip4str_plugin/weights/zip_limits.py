"""Torch zip archives judged from their directory, parsed once per read, before any record is
read (readers allocate each record's declared size): inflating over :data:`MAX_INFLATION`
times, beyond :data:`INFLATION_FLOOR` bytes, is refused (``torch.save`` does not compress;
compressed float weights shrink to about a half at most). :class:`ArchiveFacts` is what the
later steps of a read need of the directory; :func:`pickle_globals` lists a pickle's globals."""
import pickletools
import zipfile
from typing import FrozenSet, NamedTuple, Optional, Tuple

#: The most an archive, or one record of it, may expand (uncompressed / compressed bytes).
MAX_INFLATION = 100
#: Archives and records up to this many uncompressed bytes are never refused for inflating.
INFLATION_FLOOR = 64 << 20


def _over(inflated: int, compressed: int) -> bool:
    return inflated > max(INFLATION_FLOOR, MAX_INFLATION * compressed)


def inflation_problem(archive: zipfile.ZipFile) -> Optional[str]:
    """What is wrong with the declared sizes of ``archive`` (one phrase), or None."""
    records = archive.infolist()
    inflated, compressed = (sum(getattr(info, key) for info in records)
                            for key in ('file_size', 'compress_size'))
    worst = max(records, key=lambda info: info.file_size - MAX_INFLATION * info.compress_size,
                default=None)
    if worst is not None and _over(worst.file_size, worst.compress_size):
        inflated, compressed = worst.file_size, worst.compress_size
        where = f'record {worst.filename}'
    elif _over(inflated, compressed):
        where = f'its {len(records)} records'
    else:
        return None
    return (f'{where} would inflate {compressed} compressed bytes to {inflated} (over '
            f'{MAX_INFLATION} times): a decompression bomb or a damaged directory, refused '
            'before decompressing; use an intact checkpoint')


class ArchiveFacts(NamedTuple):
    """A checked torch zip archive: its record ``names``, whether all are ``stored``
    uncompressed (mappable), and the bytes of its top-level ``data.pkl`` (``b''``: none)."""
    names: Tuple[str, ...]
    stored: bool
    pickle: bytes

    @property
    def torchscript(self) -> bool:
        """A TorchScript archive: a ``code/`` folder and ``constants.pkl``."""
        return any('/code/' in n for n in self.names) and \
            any(n.endswith('constants.pkl') for n in self.names)


def archive_facts(archive: zipfile.ZipFile) -> ArchiveFacts:
    """:class:`ArchiveFacts` of an open archive whose sizes and CRCs passed."""
    records = archive.infolist()
    pkl = [i for i in records if i.filename.endswith('/data.pkl') and i.filename.count('/') == 1]
    return ArchiveFacts(tuple(i.filename for i in records),
                        all(i.compress_type == zipfile.ZIP_STORED for i in records),
                        archive.read(pkl[0]) if pkl else b'')


def pickle_globals(data: bytes) -> FrozenSet[str]:
    """``module.name`` of each global a pickle names (``GLOBAL``, and ``STACK_GLOBAL`` of two
    strings pushed or memo-fetched), from its opcodes: nothing is run. Malformed bytes raise
    what :func:`pickletools.genops` raises."""
    names, pushed, memo = set(), [None, None], {}
    for op, arg, _ in pickletools.genops(data):
        if op.name == 'GLOBAL':
            names.add(arg.replace(' ', '.'))
        elif op.name == 'STACK_GLOBAL' and None not in pushed:
            names.add('.'.join(pushed))
        if op.name in ('MEMOIZE', 'PUT', 'BINPUT', 'LONG_BINPUT'):
            memo[len(memo) if arg is None else arg] = pushed[-1]
        else:       # (what the op pushes, if a string; the last two kept)
            pushed = [pushed[-1], arg if op.name.endswith(('STRING', 'UNICODE', 'UNICODE8')) else
                      memo.get(arg) if op.name.endswith('GET') else None]
    return frozenset(names)
