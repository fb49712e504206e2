"""Label and prediction normalisation shared by training, decoding and evaluation."""
import re
import unicodedata


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
