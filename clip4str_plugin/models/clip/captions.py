"""How a word becomes the text a CLIP text tower reads (CLIP4STR's cross branch, ContrastiveCLIP).

* ``'plain'``: the word itself (``hello``), as CLIP4STR feeds OpenAI's CLIP: BPE splits it into
  sub-word tokens, thousands of distinct ones over a dictionary.
* ``'spelled'``: its characters separated by spaces (``h e l l o``): every character is one BPE
  token (``h</w>``), so the text tower reads spelling directly, 36 token rows serve every word
  (held-out words included: no token is unseen), and a tower trained from scratch learns it far
  sooner (docs/experiments_issue10.md).
"""
from typing import Sequence

from ...datasets.errors import DataError

CAPTION_STYLES = ('plain', 'spelled')


def check_caption_style(style: str) -> str:
    if style not in CAPTION_STYLES:
        raise ValueError(f'caption_style must be one of {", ".join(CAPTION_STYLES)}, '
                         f'not {style!r}')
    return style


def format_caption(text: str, style: str = 'plain', template: str = '{}') -> str:
    """``template`` around ``text`` written in ``style``."""
    if check_caption_style(style) == 'spelled':
        text = ' '.join(text)
    return template.format(text)


def check_caption_letters(chars: Sequence[str], caption_chars: Sequence[str]) -> None:
    """Refuse a caption mapping (dictionary character -> caption text) that keeps none of the
    dictionary's letters, e.g. a Greek dictionary with the reference's 36-character
    ``text_charset``: the cross branch would read empty captions (docs/charsets.md)."""
    letters = [c for c, kept in zip(chars, caption_chars) if c.isalpha()]
    if letters and not any(kept for c, kept in zip(chars, caption_chars) if c.isalpha()):
        raise DataError(f"text_charset keeps none of the dictionary's {len(letters)} letters "
                         f"({''.join(letters[:10])}...): the cross branch would read empty "
                         'captions; set text_charset to the letters CLIP should read (as '
                         'configs/clip4str/clip4str_tiny_greek.py does)')
