"""Torch zip archives judged from their directory, before any record is read (readers allocate
each record's declared size): inflating over :data:`MAX_INFLATION` times, beyond
:data:`INFLATION_FLOOR` bytes, is refused (``torch.save`` does not compress; compressed float
weights shrink to about a half at most)."""
import zipfile
from typing import Optional

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


def is_torchscript_archive(path: str) -> bool:
    """A TorchScript archive is a torch zip with a ``code/`` folder and ``constants.pkl``."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    return any('/code/' in n for n in names) and any(n.endswith('constants.pkl') for n in names)
