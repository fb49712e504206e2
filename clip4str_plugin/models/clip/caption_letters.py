"""The check that a caption mapping keeps the dictionary's letters (CLIP4STR's cross branch)."""
from typing import Sequence

from ...datasets.errors import DataError


def check_caption_letters(chars: Sequence[str], caption_chars: Sequence[str]) -> None:
    """Refuse a caption mapping (dictionary character -> caption text) that keeps none of the
    dictionary's letters, e.g. a Greek dictionary with the reference's 36-character
    ``text_charset``: the cross branch would read empty captions (docs/charsets.md)."""
    letters = [c for c, kept in zip(chars, caption_chars) if c.isalpha()]
    if letters and not any(kept for c, kept in zip(chars, caption_chars) if c.isalpha()):
        raise DataError(f"text_charset keeps none of the dictionary's {len(letters)} letters "
                         f"({''.join(letters[:10])}...): the cross branch would read empty "
                         'captions; set text_charset to the letters CLIP should read (as '
                         'configs/clip4str/clip4str-tiny_3k_synth-greek.py does)')
