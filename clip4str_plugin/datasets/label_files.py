"""Reading text files of labels (word lists, ``<image path> <label>`` lists) with clear errors."""
import codecs
from typing import List

from ..errors import DataError


def read_lines(path: str, encoding: str = 'utf-8') -> List[str]:
    """The lines of ``path`` decoded with ``encoding``, a leading byte-order mark removed,
    line ends (``\\n``, ``\\r\\n``) stripped.

    Raises:
        DataError: naming the file and the line, when a line does not decode or the encoding
            is unknown.
    """
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise DataError(f'{path}: unknown encoding {encoding!r}') from None
    with open(path, 'rb') as f:
        data = f.read()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b'\n') + 1
        raise DataError(
            f'{path}, line {line}: not valid {encoding} (byte {data[err.start]:#04x}); convert '
            'the file to UTF-8, or name its encoding (make_lmdb.py --encoding latin-1, cp1252, '
            'gbk, ...)') from None
    if text.startswith('\ufeff'):
        text = text[1:]
    lines = text.split('\n')
    if lines and lines[-1] == '':
        lines.pop()
    return [line[:-1] if line.endswith('\r') else line for line in lines]
