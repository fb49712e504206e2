"""How a word becomes what a CLIP text tower reads (CLIP4STR's cross branch, ContrastiveCLIP,
DPTR's text-only prompts): a caption in one of two styles, then CLIP's BPE ids (open_clip's
tokenizer with a cache, so per-string BPE leaves the hot loop).

* ``'plain'``: the word itself (``hello``), as CLIP4STR feeds OpenAI's CLIP: BPE splits it into
  sub-word tokens, thousands of distinct ones over a dictionary.
* ``'spelled'``: its characters separated by spaces (``h e l l o``): every character is one BPE
  token (``h</w>``), so the text tower reads spelling directly, 36 token rows serve every word
  (held-out words included: no token is unseen), and a tower trained from scratch learns it far
  sooner (docs/benchmarks.md).
"""
import functools
from typing import List, Sequence, Tuple

import torch

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


def decoded_captions(logits, table: Sequence[str], end_id: int, style: str) -> List[str]:
    """The captions of greedy decoding: ``logits (N, L, C)`` (a tensor) -> N captions, each the
    argmax class ids cut at the first ``end_id``, mapped through ``table`` (class id -> caption
    text, '' for characters CLIP is not shown), in ``style``."""
    captions = []
    for ids in logits.argmax(-1).tolist():
        end = ids.index(end_id) if end_id in ids else len(ids)
        captions.append(format_caption(''.join(table[i] for i in ids[:end]), style))
    return captions


@functools.lru_cache(maxsize=None)
def _bpe():
    from open_clip.tokenizer import SimpleTokenizer
    return SimpleTokenizer()


#: an ``encode`` length that cuts nothing
UNCUT = 1 << 30


@functools.lru_cache(maxsize=1 << 17)
def encode(text: str, length: int) -> Tuple[int, ...]:
    """SOT + BPE(text) + EOT, cut to ``length`` with EOT kept last (open_clip's truncation)."""
    bpe = _bpe()
    ids = [bpe.sot_token_id] + bpe.encode(text) + [bpe.eot_token_id]
    if len(ids) > length:
        ids = ids[:length]
        ids[-1] = bpe.eot_token_id
    return tuple(ids)


def tokenize(texts: Sequence[str], length: int) -> torch.Tensor:
    """Token ids ``(len(texts), length)``, zero-padded, as open_clip's ``tokenize``."""
    out = torch.zeros(len(texts), length, dtype=torch.long)
    for row, text in enumerate(texts):
        ids = encode(text, length)
        out[row, :len(ids)] = torch.tensor(ids)
    return out
