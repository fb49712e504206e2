"""The character sets of the papers' protocol, by name, and where the dictionary files are."""
import string
from pathlib import Path

#: Case-insensitive alphanumerics: the evaluation charset of the papers (``charset_test``).
CHARSET_36 = string.digits + string.ascii_lowercase
#: Cased alphanumerics.
CHARSET_62 = CHARSET_36 + string.ascii_uppercase
#: All printable ASCII but space: the training charset (``charset_train``).
CHARSET_94 = CHARSET_62 + string.punctuation

CHARSETS = {'36': CHARSET_36, '62': CHARSET_62, '94': CHARSET_94}

#: The shipped dictionary files (``charset_36.txt``, ``charset_94.txt``: one character a line),
#: which configs name as ``dict_file``.
DICTS_DIR = Path(__file__).resolve().parents[1] / 'dicts'


def charset_of(name: str) -> str:
    """``'36'``, ``'62'`` or ``'94'`` -> that set; any other string is the characters themselves."""
    return CHARSETS.get(name, name)
