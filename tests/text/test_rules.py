"""The text rules: charsets and their dictionary files, the reference's label rules."""
import unicodedata

import pytest

from clip4str_plugin.text.charsets import CHARSET_36, CHARSET_62, CHARSET_94, DICTS_DIR, charset_of
from clip4str_plugin.text.rules import CharsetAdapter, LabelRules, fold_label


def test_charsets_match_the_shipped_dictionaries():
    for name, chars in (('36', CHARSET_36), ('94', CHARSET_94)):
        lines = (DICTS_DIR / f'charset_{name}.txt').read_text().splitlines()
        assert ''.join(lines) == chars and all(len(line) == 1 for line in lines)
    assert len(CHARSET_36) == 36 and len(CHARSET_62) == 62 and len(CHARSET_94) == 94
    assert charset_of('62') == CHARSET_62 and charset_of('abc') == 'abc'
    assert CharsetAdapter(CHARSET_36)('Hello, World!') == 'helloworld'
    assert CharsetAdapter('ABC')('abcd') == 'ABC'


def test_label_rules_on_hand_made_examples():
    train = LabelRules(CHARSET_94)
    assert train('Hello World') == 'HelloWorld'          # whitespace removed
    assert train('café\tNaïve') == 'cafeNaive'           # NFKD to ASCII
    assert train('a€b') == 'ab' and train.altered['chars_removed'] == 1
    assert train('x' * 25) == 'x' * 25
    assert train('x' * 26) is None                       # longer than 25, before the charset
    assert train('中文') is None and train('   ') is None
    assert dict(train.dropped) == {'too_long': 1, 'empty': 2}
    test = LabelRules(CHARSET_36)
    assert test('Hello, World!') == 'helloworld'
    assert test('!!!') is None
    # the length rule applies before the charset: 26 characters with punctuation are dropped
    assert test('a' * 24 + '!!') is None


def test_label_folding():
    label = 'Ἀθῆναι ΟΔΟΣ πα\u0301ω café'
    ascii_rules = LabelRules(CHARSET_94)                    # the reference
    assert ascii_rules(label) == 'cafe'
    greek = charset_of('charset_greek.txt') + 'café'
    nfc = LabelRules(greek, max_length=30, label_folding='nfc')
    # composed: α + U+0301 is 'ά'; polytonic letters outside the dictionary are removed
    assert nfc(label) == 'θναιΟΔΟΣπάωcafé' and nfc.altered['chars_removed'] == 1
    none = LabelRules(greek, max_length=30, label_folding='none')
    assert none(label) == 'θναιΟΔΟΣπαωcafé'                # U+0301 alone is not in the set
    assert fold_label('ﬁ', 'ascii') == 'fi' and fold_label('ﬁ', 'nfc') == 'ﬁ'
    with pytest.raises(ValueError, match=r"^label_folding must be 'ascii' .* not 'nfkc'$"):
        LabelRules(CHARSET_94, label_folding='nfkc')


def test_why_a_label_was_dropped():
    rules = LabelRules(CHARSET_36)
    assert rules('Ζεύς') is None and rules('!!') is None and rules('a' * 26) is None
    assert rules.examples == {'empty': 'Ζεύς', 'too_long': 'a' * 26}
    assert "set label_folding='nfc'" in rules.why('empty')
    assert rules.why('empty', '!!').startswith("'!!' has no character of the charset")
    assert rules.why('too_long') == f"'{'a' * 26}' is longer than max_label_length=25 (raise " \
        'max_label_length)'


def test_greek_dictionary_and_case():
    chars = charset_of('charset_greek.txt')
    assert chars == charset_of(str(DICTS_DIR / 'charset_greek.txt'))
    assert len(chars) == len(set(chars)) == 90
    assert all(unicodedata.normalize('NFC', c) == c for c in chars)
    assert {'ς', 'ΐ', 'Ώ', '«', '9'} <= set(chars)
    lower = CharsetAdapter(''.join(c for c in chars if not c.isupper()))
    assert lower('ΟΔΟΣ ΣΟΦΟΣ') == 'οδοςσοφος'    # str.lower: final sigma at a word's end
    with pytest.raises(FileNotFoundError, match=r'^charset nowhere.txt: no such dictionary '
                       r'file \(a path, or one of charset_36.txt, .*charset_greek.txt'):
        charset_of('nowhere.txt')


#: (label, what OpenOCR keeps or None): recorded by running OpenOCR's DPTRLabelEncode.__call__
#: (max_text_length 25, tools/utils/EN_symbol_dict.txt, open_clip's BPE as ``tokenize``) on
#: each label and decoding the kept ids back to text.
OPENOCR_DPTR_LABELS = [
    ('abc', 'abc'), ('a b\tc', 'abc'), ('\u00e9' * 25, 'e' * 25),
    ('x' * 24 + '\u00b4y', 'x' * 24 + 'y'), ('rock\u00b4n\u00b4roll', 'rocknroll'),
    ('\ufb01' * 13, None), ('x' * 25 + ' ', 'x' * 25), ('', None), ('   ', None),
    ('\u3072\u3089\u304c\u306a', None), ('\u00bd' * 9, '12' * 9),
    ('a' * 20 + '\u00a8' * 6, 'a' * 20), ('x' * 26, None), ('Caf\u00e9 Noir', 'CafeNoir'),
    ('e\u0301' * 25 + 'e', None)]


def test_fold_first_is_openocr_dptr_order():
    dptr = LabelRules(CHARSET_94, fold_first=True)
    assert [(label, dptr(label)) for label, _ in OPENOCR_DPTR_LABELS] == OPENOCR_DPTR_LABELS
    # PARSeq's order (CLIP4STR) measures '´' and '¨' as the spaces NFKD makes of them
    parseq = LabelRules(CHARSET_94)
    assert parseq('x' * 24 + '\u00b4y') is None and parseq('a' * 20 + '\u00a8' * 6) is None
    assert parseq('rock\u00b4n\u00b4roll') == 'rocknroll'

