"""A CLIP4STR decoder whose text_charset keeps none of its dictionary's letters (a Greek
dictionary with the reference's 36 characters) is refused when built: its cross branch would
read empty captions."""
import pytest

from clip4str_plugin.errors import DataError
from conftest import tiny_model

GREEK = dict(type='PARSeqDictionary', dict_file='charset_greek.txt')


def test_greek_dictionary_needs_a_greek_text_charset():
    with pytest.raises(DataError, match=r"^text_charset keeps none of the dictionary's 69 "
                       r"letters \(αβγδεζηθικ...\): the cross branch would read empty captions; "
                       'set text_charset'):
        tiny_model(dictionary=GREEK)
    greek = tiny_model(dictionary=GREEK, text_charset='αβγδεζηθικλμνξοπρσςτυφχψω')
    assert greek.decoder._caption_chars[1 + greek.decoder.dictionary.chars.index('Σ')] == 'σ'
    assert tiny_model().decoder._caption_chars[1:4] == ['0', '1', '2']   # the 94: unchanged
