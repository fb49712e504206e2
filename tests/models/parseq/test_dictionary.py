"""PARSeqDictionary: the reference token order, a user's own character file, and the refusal
of a dictionary file it would take badly, naming the file and line."""
import string

import pytest

from clip4str_plugin.models.parseq.dictionary import PARSeqDictionary
from conftest import DICT_94


def dict_file(tmp_path, data: bytes):
    path = tmp_path / 'chars.txt'
    path.write_bytes(data)
    return str(path)


def test_empty_dictionary_file(tmp_path):
    path = dict_file(tmp_path, b'\n\n')
    with pytest.raises(ValueError, match=f'^dict_file {path} holds no characters: write one '
                       'character per line$'):
        PARSeqDictionary(path)


def test_duplicate_character_names_it_and_both_lines(tmp_path):
    path = dict_file(tmp_path, b'a\nb\n \nc\nb\n')
    with pytest.raises(ValueError, match=f"^dict_file {path}, line 5: character 'b' repeats "
                       'line 2; each character may appear once$'):
        PARSeqDictionary(path)
    path = dict_file(tmp_path, b'a\n \nc\n \n')
    with pytest.raises(ValueError, match="line 4: character ' ' repeats line 2"):
        PARSeqDictionary(path)


def test_several_characters_on_a_line_and_bad_encoding(tmp_path):
    path = dict_file(tmp_path, '\ufeffa\nb\n'.encode('utf-8'))
    with pytest.raises(ValueError, match=rf"^dict_file {path}, line 1: '\\ufeffa' is 2 "
                       'characters; write one character per line$'):
        PARSeqDictionary(path)
    path = dict_file(tmp_path, 'a\n\u00e9\n'.encode('latin-1'))
    with pytest.raises(ValueError, match=f'^dict_file {path} is not UTF-8 .*at byte 2'):
        PARSeqDictionary(path)


def test_a_good_file_with_blank_lines_and_space(tmp_path):
    dic = PARSeqDictionary(dict_file(tmp_path, b'a\n\nb\n \n'))
    assert dic.chars == 'ab ' and dic.num_classes == 6


def test_reference_order():
    dic = PARSeqDictionary(DICT_94)
    expected = string.digits + string.ascii_lowercase + string.ascii_uppercase + \
        string.punctuation
    assert dic.chars == expected
    assert (dic.end_idx, dic.start_idx, dic.padding_idx, dic.num_classes) == (0, 95, 96, 97)
    assert dic.dict[0] == '[E]' and dic.dict[-2:] == ['[B]', '[P]']
    assert dic.str2idx('aZ!') == [11, 62, 63]
    assert dic.idx2str([11, 62, 63]) == 'aZ!'


def test_user_charset(tmp_path):
    path = tmp_path / 'chars.txt'
    path.write_text('é\nß\n中\n')
    dic = PARSeqDictionary(str(path))
    assert dic.chars == 'éß中'
    assert (dic.end_idx, dic.start_idx, dic.padding_idx) == (0, 4, 5)
    assert dic.str2idx('中é') == [3, 1]
