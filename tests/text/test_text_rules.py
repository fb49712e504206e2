"""The text rules: charsets and their dictionary files, the reference's label rules."""
from clip4str_plugin.text.charsets import CHARSET_36, CHARSET_62, CHARSET_94, DICTS_DIR, charset_of
from clip4str_plugin.text.rules import CharsetAdapter, LabelRules


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
