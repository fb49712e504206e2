"""CLIP's BPE tokenizer (open_clip's) with a cache, so per-string BPE leaves the hot loop."""
import functools
from typing import Sequence, Tuple

import torch


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
