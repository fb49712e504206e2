"""The character sets of the papers' protocol, by name, and where the dictionary files are."""
import logging
import os.path as osp
import string
from pathlib import Path
from typing import Optional

from mmengine.logging import print_log

from ..errors import DataNotFoundError

#: Case-insensitive alphanumerics: the evaluation charset of the papers (``charset_test``).
CHARSET_36 = string.digits + string.ascii_lowercase
#: Cased alphanumerics.
CHARSET_62 = CHARSET_36 + string.ascii_uppercase
#: All printable ASCII but space: the training charset (``charset_train``).
CHARSET_94 = CHARSET_62 + string.punctuation

CHARSETS = {'36': CHARSET_36, '62': CHARSET_62, '94': CHARSET_94}

#: The shipped dictionary files (``charset_36.txt``, ``charset_94.txt``, ``charset_greek.txt``:
#: one character a line), which configs name as ``dict_file``.
DICTS_DIR = Path(__file__).resolve().parents[1] / 'dicts'


def _shipped_names() -> str:
    return ', '.join(sorted(p.name for p in DICTS_DIR.glob('*.txt')))


def resolve_dict_file(dict_file: str) -> str:
    """Where ``dict_file`` is: a bare name of a shipped dictionary (``'charset_94.txt'``) is the
    file in ``clip4str_plugin/dicts``; any other existing path is itself. A path to the package's
    ``clip4str_plugin/dicts/`` on another machine (a Runner checkpoint's config) is this
    package's file of that name, with a logged note; any other path with a folder that does not
    exist is refused (``DataNotFoundError``, a ``FileNotFoundError``). Another bare name is
    returned unchanged."""
    packaged = DICTS_DIR / osp.basename(dict_file)
    if not osp.dirname(dict_file):
        return str(packaged) if packaged.is_file() else dict_file
    if osp.exists(dict_file):
        return dict_file
    folders = Path(osp.normpath(dict_file)).parts[-3:-1]
    if folders != (DICTS_DIR.parent.name, DICTS_DIR.name) or not packaged.is_file():
        raise DataNotFoundError(
            f'dict_file {dict_file} does not exist: give the path of an existing file; a bare '
            f"name such as 'charset_94.txt' means a shipped dictionary ({_shipped_names()})")
    print_log(f'dict_file {dict_file} does not exist; using the shipped {packaged.name} '
              f'({packaged}) instead', logger='current', level=logging.WARNING)
    return str(packaged)


def shipped_name(path: str) -> Optional[str]:
    """The bare name of ``path`` when it is one of the shipped dictionaries (its bare name, or an
    existing path to that very file in ``clip4str_plugin/dicts``); None for any other path."""
    packaged = DICTS_DIR / osp.basename(path)
    if not packaged.is_file():
        return None
    if osp.dirname(path) and not (osp.isfile(path) and osp.samefile(path, packaged)):
        return None
    return packaged.name


def dict_file_chars(dict_file: str) -> str:
    """The characters of a dictionary file (one a line, empty lines skipped), in file order; the
    file as :func:`resolve_dict_file` finds it."""
    path = resolve_dict_file(dict_file)
    if not osp.isfile(path):
        raise FileNotFoundError(f'charset {dict_file}: no such dictionary file (a path, or one '
                                f'of {_shipped_names()} in clip4str_plugin/dicts)')
    with open(path, encoding='utf-8') as f:
        return ''.join(line.rstrip('\r\n') for line in f if line.rstrip('\r\n'))


def charset_of(name: str) -> str:
    """``'36'``, ``'62'``, ``'94'`` -> that set; a dictionary file (a name ending in ``.txt``:
    a path or a shipped one) -> its characters; any other string is the characters themselves."""
    if name in CHARSETS:
        return CHARSETS[name]
    if name.endswith('.txt'):    # a charset never repeats a character, '.txt' does
        return dict_file_chars(name)
    return name
