"""Greek rendered words: wordfreq's words with their final sigma, disjoint splits, fonts chosen
by coverage of charset_greek.txt, (make_synth_lmdb --words el:
tests/tools/test_make_synth_greek.py)."""
import os

import matplotlib
import pytest

from clip4str_plugin.synth.fonts import font_paths, fonts_drawing
from clip4str_plugin.synth.words import WordSampler, greek_word, upper, word_list
from clip4str_plugin.text.charsets import charset_of

GREEK = set(charset_of('charset_greek.txt'))


def test_greek_word_lists():
    splits = {split: set(word_list(split, 12, 2, 'el')) for split in ('train', 'val', 'test')}
    assert len(splits['train']) > 30_000 and len(splits['test']) > 1_500
    assert not (splits['train'] & splits['test']) and not (splits['train'] & splits['val'])
    every = set.union(*splits.values())
    assert set(''.join(every)) <= GREEK
    assert not any(w.endswith('σ') for w in every) and 'λόγος' in every
    assert greek_word('λόγοσ') == 'λόγος' and greek_word('σε') == 'σε'
    assert upper('Αθήνα') == 'ΑΘΗΝΑ' and upper('ΐ') == 'Ϊ' and upper('hello') == 'HELLO'
    labels = [WordSampler('test', 0, 0.0, 12, language='el')() for _ in range(200)]
    assert set(''.join(labels)) <= GREEK and all(w.lower() in splits['test'] or
                                                 upper(w.lower()) == w for w in labels)


def test_fonts_are_chosen_by_coverage():
    greek = charset_of('charset_greek.txt')
    names = {os.path.basename(p) for p in fonts_drawing(font_paths(), greek)}
    assert {'DejaVuSans.ttf', 'DejaVuSerif-Bold.ttf', 'STIXGeneral.ttf'} <= names
    cm = os.path.join(matplotlib.get_data_path(), 'fonts', 'ttf', 'cmr10.ttf')  # no Greek
    with pytest.raises(ValueError, match=r"^none of 1 fonts draws all of '0123456789αβγδεζηθικ'"
                       r"\.\.\.; choose other fonts$"):
        fonts_drawing([cm], greek)
