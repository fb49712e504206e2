"""Labels for rendered data, split into train / val / test that never share a word.

Words come from a real English word list (``english-words``, web2) in three casings, plus random
strings over the 94 printable ASCII characters. A word belongs to exactly one split (by a hash of
its lower-cased form), and random strings for val / test are dropped if they could occur in
train, so held-out words are never seen in training.
"""
import functools
import zlib
from typing import Optional, Tuple

import numpy as np

from ..text.charsets import CHARSET_94

SPLITS = ('train', 'val', 'test')


def split_of(word: str) -> str:
    """Deterministic split of a word: 90 % train, 5 % val, 5 % test (case-insensitive)."""
    bucket = zlib.crc32(word.lower().encode()) % 20
    return 'test' if bucket == 0 else 'val' if bucket == 1 else 'train'


@functools.lru_cache(maxsize=None)
def word_list(split: str, max_len: int = 25, min_len: int = 2) -> Tuple[str, ...]:
    """Alphabetic words of ``split`` and ``min_len``-``max_len`` letters from the web2 word list
    (``english-words``)."""
    from english_words import get_english_words_set
    words = get_english_words_set(['web2'], lower=False, alpha=True)
    return tuple(sorted(w for w in words
                        if min_len <= len(w) <= max_len and split_of(w) == split))


class WordSampler:
    """Labels for one split: dictionary words (lower / Capitalised / UPPER) and random strings.

    Args:
        split: 'train', 'val' or 'test'.
        seed: random seed.
        random_fraction: share of random strings over ``charset``.
        max_len: longest label (words and random strings).
        charset: characters of the random strings.
        min_len: shortest label (default: words of 2 letters, random strings of 1 character).
    """

    def __init__(self, split: str, seed: int = 0, random_fraction: float = 0.2,
                 max_len: int = 12, charset: str = CHARSET_94, min_len: Optional[int] = None):
        if split not in SPLITS:
            raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
        self.split, self.words = split, word_list(split, max_len, min_len or 2)
        self.rng = np.random.default_rng([seed, SPLITS.index(split)])
        self.random_fraction, self.charset = random_fraction, charset
        self.max_len, self.min_len = max_len, min_len or 1

    def _random_string(self) -> str:
        while True:
            length = int(self.rng.integers(self.min_len, self.max_len + 1))
            text = ''.join(self.rng.choice(list(self.charset), length))
            if self.split == 'train' or split_of(text) == self.split:
                return text

    def __call__(self) -> str:
        if self.rng.random() < self.random_fraction:
            return self._random_string()
        word = self.words[int(self.rng.integers(len(self.words)))]
        case = self.rng.random()
        return word.upper() if case < 0.2 else word.capitalize() if case < 0.5 else word.lower()
