"""Label and prediction normalisation shared by training, decoding and evaluation.

One setting, ``label_folding``, says what happens to a label's Unicode before the charset:

* ``'ascii'`` (the reference, the default): NFKD, then only the ASCII part kept (accents
  dropped, other scripts removed): the papers' numbers.
* ``'nfc'``: Unicode kept, composed (NFC), so 'ά' written as 'α' + U+0301 equals 'ά'. For
  non-Latin dictionaries (``charset_greek.txt``).
* ``'none'``: the label as given.
"""
import re
import unicodedata
from collections import Counter
from typing import Dict, Optional, Tuple

from .charsets import charset_of

LABEL_FOLDINGS = ('ascii', 'nfc', 'none')
#: Why the rules drop a label (``no_label``: a sample without any).
LABEL_REASONS = ('too_long', 'empty', 'no_label')


class CharsetAdapter:
    """Map text onto a character set as the reference does: lower-case (or upper-case) it when the
    set has one case only, then delete every character outside the set.

    ``CharsetAdapter('0123456789abcdefghijklmnopqrstuvwxyz')('Hello, World!') == 'helloworld'``.
    Case mapping is ``str.lower`` / ``str.upper`` of the whole text (Greek: 'ΟΔΟΣ' -> 'οδος',
    the final sigma by its position).
    """

    def __init__(self, charset: str):
        self.charset = charset
        self.lowercase_only = charset == charset.lower()
        self.uppercase_only = charset == charset.upper()
        self._outside = re.compile(f'[^{re.escape(charset)}]')

    def __call__(self, text: str) -> str:
        if self.lowercase_only:
            text = text.lower()
        elif self.uppercase_only:
            text = text.upper()
        return self._outside.sub('', text)


def nfkd_ascii(text: str) -> str:
    """NFKD-normalise and keep the ASCII part: accents dropped, non-Latin scripts removed."""
    return unicodedata.normalize('NFKD', text).encode('ascii', 'ignore').decode()


def fold_label(text: str, folding: str = 'ascii') -> str:
    """``text`` under a ``label_folding`` ('ascii', 'nfc' or 'none'; see the module)."""
    if folding == 'ascii':
        return nfkd_ascii(text)
    return unicodedata.normalize('NFC', text) if folding == 'nfc' else text


def check_folding(folding: str) -> str:
    if folding not in LABEL_FOLDINGS:
        raise ValueError(f"label_folding must be 'ascii' (the reference: NFKD to ASCII), 'nfc' "
                         f"(Unicode kept, composed) or 'none' (as given), not {folding!r}")
    return folding


class LabelRules:
    """The reference's label filter: whitespace removed, ``label_folding`` applied, labels
    longer than ``max_length`` dropped (before the charset), charset adapted, empty labels
    dropped. ``fold_first`` swaps the first two steps.

    ``__call__`` returns the cleaned label, or ``None`` and records why in ``dropped`` (and the
    first such label in ``examples``); labels that kept some characters but lost others outside
    the charset are counted in ``altered``.

    Args:
        charset: the characters kept: '36', '62', '94', a dictionary file ('charset_greek.txt'
            or a path) or the characters themselves.
        max_length: 25.
        remove_whitespace: True.
        label_folding: 'ascii' (the reference), 'nfc' or 'none'.
        fold_first: False: whitespace removed, then folded (PARSeq's order, CLIP4STR's
            reference); True: folded, then whitespace removed (OpenOCR's ``DPTRLabelEncode``),
            so the spaces that folding makes (NFKD turns '´' and '¨' into a space and an accent)
            are removed before the length rule: 24 letters + '´' + 'y' keep 25 there.
    """

    def __init__(self, charset: str, max_length: int = 25, remove_whitespace: bool = True,
                 label_folding: str = 'ascii', fold_first: bool = False):
        self.fold_first = fold_first
        self.adapt = CharsetAdapter(charset_of(charset))
        self.max_length = max_length
        self.remove_whitespace = remove_whitespace
        self.folding = check_folding(label_folding)
        self.dropped, self.altered = Counter(), Counter()
        self.examples: Dict[str, str] = {}

    def fold(self, text: str) -> str:
        return fold_label(text, self.folding)

    def fold_prediction(self, text: str) -> str:
        """A prediction before the charset: composed under 'nfc' like the labels, otherwise
        as given (the reference folds only the ground truth)."""
        return fold_label(text, 'nfc') if self.folding == 'nfc' else text

    def drop(self, reason: str, label: str) -> None:
        self.dropped[reason] += 1
        self.examples.setdefault(reason, label)

    def clean(self, label: str) -> Tuple[Optional[str], Optional[str]]:
        """``(cleaned label, None)`` or ``(None, reason)`` ('too_long', 'empty'); a drop is not
        counted here (``__call__`` counts it)."""
        given = len(''.join(label.split()))
        if self.fold_first:
            label = self.fold(label)
        if self.remove_whitespace:
            label = ''.join(label.split())
        if not self.fold_first:
            label = self.fold(label)
        if len(label) > self.max_length:
            return None, 'too_long'
        adapted = self.adapt(label)
        if not adapted:
            return None, 'empty'
        if len(adapted) < given:
            self.altered['chars_removed'] += 1
        return adapted, None

    def __call__(self, label: str) -> Optional[str]:
        """The cleaned label, or None with the reason counted in ``dropped``."""
        cleaned, reason = self.clean(label)
        if reason:
            self.drop(reason, label)
        return cleaned

    def why(self, reason: str, label: Optional[str] = None) -> str:
        """Which rule dropped ``label`` (default ``examples[reason]``) and the setting that
        changes it."""
        label = self.examples.get(reason, '') if label is None else label
        if reason == 'too_long':
            return (f'{label!r} is longer than max_label_length={self.max_length} (raise '
                    'max_label_length)')
        if reason == 'empty' and label.strip() and not self.fold(label).strip():
            return (f"{label!r} is empty under label_folding={self.folding!r} (NFKD to ASCII "
                    "removes other scripts: set label_folding='nfc' and the charset to the "
                    "labels' dictionary, e.g. 'charset_greek.txt')")
        if reason == 'empty' and label.strip():
            return (f'{label!r} has no character of the charset (set the charset to the '
                    "labels' dictionary file, or label_folding='nfc' for non-ASCII labels)")
        if reason == 'no_label':
            return 'a sample has no text instance'
        return f'{label!r} is empty'
