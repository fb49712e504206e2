"""How a word becomes the text a CLIP text tower reads (CLIP4STR's cross branch, ContrastiveCLIP,
DPTR's text-only prompts).

* ``'plain'``: the word itself (``hello``), as CLIP4STR feeds OpenAI's CLIP: BPE splits it into
  sub-word tokens, thousands of distinct ones over a dictionary.
* ``'spelled'``: its characters separated by spaces (``h e l l o``): every character is one BPE
  token (``h</w>``), so the text tower reads spelling directly, 36 token rows serve every word
  (held-out words included: no token is unseen), and a tower trained from scratch learns it far
  sooner (docs/benchmarks.md).
"""
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
