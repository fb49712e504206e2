"""Label and prediction normalisation shared by training, decoding and evaluation."""
import re
import unicodedata
from collections import Counter
from typing import Optional


class CharsetAdapter:
    """Map text onto a character set as the reference does: lower-case (or upper-case) it when the
    set has one case only, then delete every character outside the set.

    ``CharsetAdapter('0123456789abcdefghijklmnopqrstuvwxyz')('Hello, World!') == 'helloworld'``.
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


class LabelRules:
    """The reference's label filter: whitespace removed, NFKD to ASCII, labels longer than
    ``max_length`` dropped (before the charset), charset adapted, empty labels dropped.

    ``__call__`` returns the cleaned label, or ``None`` and records why in ``dropped``; labels
    that kept some characters but lost others outside the charset are counted in ``altered``.
    """

    def __init__(self, charset: str, max_length: int = 25, remove_whitespace: bool = True,
                 normalize_unicode: bool = True):
        self.adapt = CharsetAdapter(charset)
        self.max_length = max_length
        self.remove_whitespace, self.normalize_unicode = remove_whitespace, normalize_unicode
        self.dropped, self.altered = Counter(), Counter()

    def __call__(self, label: str) -> Optional[str]:
        if self.remove_whitespace:
            label = ''.join(label.split())
        given = len(label)
        if self.normalize_unicode:
            label = nfkd_ascii(label)
        if len(label) > self.max_length:
            self.dropped['too_long'] += 1
            return None
        adapted = self.adapt(label)
        if not adapted:
            self.dropped['empty'] += 1
            return None
        if len(adapted) < given:
            self.altered['chars_removed'] += 1
        return adapted
