"""The character sets of the papers' protocol, by name, and where the dictionary files are."""
import os.path as osp
import string
from pathlib import Path

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


def dict_file_chars(dict_file: str) -> str:
    """The characters of a dictionary file (one a line, empty lines skipped), in file order; a
    bare name (``'charset_greek.txt'``) is the shipped file in ``clip4str_plugin/dicts``."""
    packaged = DICTS_DIR / dict_file
    path = str(packaged) if not osp.dirname(dict_file) and packaged.is_file() else dict_file
    if not osp.isfile(path):
        raise FileNotFoundError(f'charset {dict_file}: no such dictionary file (a path, or one '
                                f'of {", ".join(sorted(p.name for p in DICTS_DIR.glob("*.txt")))}'
                                ' in clip4str_plugin/dicts)')
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
