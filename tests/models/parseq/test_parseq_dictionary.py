"""PARSeqDictionary: the reference token order, and a user's own character file."""
import string

from clip4str_plugin.models.parseq.dictionary import PARSeqDictionary
from conftest import DICT_94


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
