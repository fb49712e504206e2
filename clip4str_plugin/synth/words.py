"""Labels for rendered data, split into train / val / test that never share a word.

Words come from a real word list in three casings, plus random strings over a charset (the 94
printable ASCII characters by default): English from ``english-words`` (web2), Greek
(``language='el'``) from ``wordfreq``'s Greek list (its most frequent words spelt only with
the letters of ``charset_greek.txt``; wordfreq writes every sigma as 'σ', so a word-final one
becomes 'ς' again). A word belongs to exactly one split (by a hash of
its lower-cased form), and random strings for val / test are dropped if they could occur in
train, so held-out words are never seen in training.
"""
import functools
import unicodedata
import zlib
from typing import Optional, Tuple

import numpy as np

from clip4str_plugin.text.charsets import CHARSET_94, charset_of
from clip4str_plugin.synth.errors import missing_synth_extra

SPLITS = ('train', 'val', 'test')
#: Word-list languages: English (web2) and Greek (wordfreq).
LANGUAGES = ('en', 'el')
#: The Greek letters of ``charset_greek.txt`` (both cases; tonos, dialytika, final sigma).
GREEK_LETTERS = ''.join(c for c in charset_of('charset_greek.txt') if c.isalpha())
#: How many of wordfreq's most frequent Greek words are read.
GREEK_TOP_N = 100_000


def split_of(word: str) -> str:
    """Deterministic split of a word: 90 % train, 5 % val, 5 % test (case-insensitive)."""
    bucket = zlib.crc32(word.lower().encode()) % 20
    return 'test' if bucket == 0 else 'val' if bucket == 1 else 'train'


def greek_word(word: str) -> str:
    """A wordfreq Greek word with its final sigma ('λόγοσ' -> 'λόγος')."""
    return word[:-1] + 'ς' if word.endswith('σ') else word


def upper(word: str) -> str:
    """Upper case; Greek capitals lose the tonos, as Greek is written in capitals
    ('Αθήνα' -> 'ΑΘΗΝΑ', 'ϊ' -> 'Ϊ')."""
    without_tonos = unicodedata.normalize('NFD', word).replace('\u0301', '')
    return unicodedata.normalize('NFC', without_tonos).upper()


@functools.lru_cache(maxsize=None)
def all_words(language: str = 'en') -> Tuple[str, ...]:
    """Every word of a language's list (:data:`LANGUAGES`), sorted."""
    if language == 'el':
        try:
            from wordfreq import top_n_list
        except ImportError:
            raise missing_synth_extra('Greek words', 'wordfreq') from None
        letters = set(GREEK_LETTERS)
        return tuple(sorted({greek_word(w) for w in top_n_list('el', GREEK_TOP_N)
                             if set(w) <= letters}))
    if language != 'en':
        raise ValueError(f'words must be one of {", ".join(LANGUAGES)}, not {language!r}')
    try:
        from english_words import get_english_words_set
    except ImportError:
        raise missing_synth_extra('English words', 'english-words') from None
    return tuple(sorted(get_english_words_set(['web2'], lower=False, alpha=True)))


@functools.lru_cache(maxsize=None)
def word_list(split: str, max_len: int = 25, min_len: int = 2,
              language: str = 'en') -> Tuple[str, ...]:
    """Words of ``split`` and ``min_len``-``max_len`` letters of a language's list."""
    return tuple(w for w in all_words(language)
                 if min_len <= len(w) <= max_len and split_of(w) == split)


class WordSampler:
    """Labels for one split: dictionary words (lower / Capitalised / UPPER) and random strings.

    Args:
        split: 'train', 'val' or 'test'.
        seed: random seed.
        random_fraction: share of random strings over ``charset``.
        max_len: longest label (words and random strings).
        charset: characters of the random strings.
        min_len: shortest label (default: words of 2 letters, random strings of 1 character).
        language: the word list, 'en' or 'el' (:data:`LANGUAGES`).
    """

    def __init__(self, split: str, seed: int = 0, random_fraction: float = 0.2,
                 max_len: int = 12, charset: str = CHARSET_94, min_len: Optional[int] = None,
                 language: str = 'en'):
        if split not in SPLITS:
            raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
        self.split, self.words = split, word_list(split, max_len, min_len or 2, language)
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
        return upper(word) if case < 0.2 else word.capitalize() if case < 0.5 else word.lower()
