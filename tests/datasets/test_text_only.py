"""TextOnlyDataset: word lists with a byte-order mark or a foreign encoding, empty results and
labels the dictionary cannot encode give one-line errors naming the file or dataset."""
import pytest

from clip4str_plugin.datasets import TextOnlyDataset
from clip4str_plugin.text.charsets import DICTS_DIR


def words(data):
    return [data.get_data_info(i)['instances'][0]['text'] for i in range(len(data))]


def test_word_list_with_bom_and_crlf(tmp_path):
    path = tmp_path / 'words.txt'
    path.write_bytes('\ufeffAlpha\r\nbeta\r\n\r\ngamma ray\n'.encode('utf-8'))
    data = TextOnlyDataset(ann_file=str(path), name='words')
    assert words(data) == ['Alpha', 'beta', 'gammaray']
    assert dict(data.rules.dropped) == {'empty': 1}


def test_undecodable_word_list_names_file_and_line(tmp_path):
    path = tmp_path / 'latin.txt'
    path.write_bytes('one\ntwo\ncaf\u00e9\n'.encode('latin-1'))
    with pytest.raises(ValueError, match=r'latin.txt, line 3: not valid utf-8 \(byte 0xe9\); '
                       'convert the file to UTF-8'):
        TextOnlyDataset(ann_file=str(path))


def test_empty_corpus_and_missing_corpus(tmp_path, monkeypatch):
    path = tmp_path / 'long.txt'
    path.write_text('abcdefghij\nklmnopqrstu\n')
    with pytest.raises(ValueError, match=r'^long words: 0 of 2 samples kept \(too_long 2\) '
                       r"from .*long.txt: e.g. 'abcdefghij' is longer than max_label_length=5 "
                       r"\(raise max_label_length\)$"):
        TextOnlyDataset(ann_file=str(path), max_label_length=5, name='long words')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r'^synth labels: text corpus \(a word list or '
                       r'LMDBs\) not found: data/synth/train \(relative to the current directory'
                       r'.*SYNTH_DATA_ROOT'):
        TextOnlyDataset(ann_file='train', data_root='data/synth', name='synth labels')


def test_labels_outside_the_dictionary(tmp_path):
    path = tmp_path / 'words.txt'
    path.write_text('word\nWORD\n')
    dictionary = dict(type='PARSeqDictionary', dict_file=str(DICTS_DIR / 'charset_36.txt'))
    with pytest.raises(ValueError, match="^corpus: 1 of 2 labels use 4 characters the "
                       "dictionary lacks: 'D' .*'O' .*'R' .*'W'"):
        TextOnlyDataset(ann_file=str(path), name='corpus', dictionary=dictionary)


def test_greek_word_list_kept_as_unicode(tmp_path):
    path = tmp_path / 'el.txt'
    # 'ά' written decomposed (α + U+0301) is composed by 'nfc'
    path.write_text('καλημέρα\nΚαλά\nπ\u03b1\u0301ω\n', encoding='utf-8')
    data = TextOnlyDataset(ann_file=str(path), charset='charset_greek.txt', label_folding='nfc')
    assert words(data) == ['καλημέρα', 'Καλά', 'πάω']
    with pytest.raises(ValueError, match=r"^.*el.txt: 0 of 3 samples kept \(empty 3\) from "
                       r".*el.txt: e.g. 'καλημέρα' is empty under label_folding='ascii'"):
        TextOnlyDataset(ann_file=str(path))
    with pytest.raises(ValueError, match="^label_folding must be 'ascii'"):
        TextOnlyDataset(ann_file=str(path), label_folding='NFKC')


def test_pack_clip_prompt_spelled_fits_or_names_the_label():
    import open_clip
    import torch
    from clip4str_plugin.datasets import PackCLIPPrompt
    from clip4str_plugin.errors import DataError

    pack = PackCLIPPrompt(template='{}', context_length=16, caption_style='spelled')
    item = pack(dict(instances=[dict(text='Hello')]))
    assert item['data_samples'].gt_text.item == 'Hello'          # the targets keep the case
    assert torch.equal(item['inputs'], open_clip.tokenize(['h e l l o'], context_length=16)[0])
    assert int((item['inputs'] > 0).sum()) == 7                  # SOT, one token a letter, EOT
    # 14 characters + SOT + EOT fill the 16 positions exactly; one more is refused, by name
    assert int((pack(dict(instances=[dict(text='a' * 14)]))['inputs'] > 0).sum()) == 16
    with pytest.raises(DataError, match=r"the prompt 'a b c d e f g h i j k l m n o' needs 17 "
                       r'tokens, more than context_length=16; lower the corpus'):
        pack(dict(instances=[dict(text='abcdefghijklmno')]))
    with pytest.raises(ValueError, match="caption_style must be one of plain, spelled, not 'x'"):
        PackCLIPPrompt(caption_style='x')
    # the default is DPTR's plain prompt
    plain = PackCLIPPrompt()(dict(instances=[dict(text='Hello')]))
    assert torch.equal(plain['inputs'], open_clip.tokenize(["a photo of a 'Hello'"])[0])


def test_text_only_dataset_uses_openocr_dptr_order(tmp_path):
    words = tmp_path / 'words.txt'
    words.write_text('x' * 24 + '\u00b4y\nhello\n', encoding='utf-8')
    data = TextOnlyDataset(str(words))
    assert [d['instances'][0]['text'] for d in data] == ['x' * 24 + 'y', 'hello']


def test_lmdb_labels_that_are_not_utf8_are_a_named_skip(tmp_path):
    import lmdb

    from clip4str_plugin.datasets.lmdb_io import write_lmdb
    write_lmdb(str(tmp_path / 'set'), [(b'', 'good'), (b'', 'Guidable'), (b'', 'ok')])
    env = lmdb.open(str(tmp_path / 'set'), map_size=1 << 20)
    with env.begin(write=True) as txn:
        txn.put(b'label-000000002', 'Guidableé'.encode('latin-1'))
    env.close()
    data = TextOnlyDataset(ann_file=str(tmp_path / 'set'))
    assert [data.get_data_info(i)['instances'][0]['text'] for i in range(len(data))] == \
        ['good', 'ok']
    assert data.undecodable == [f"{tmp_path / 'set'}/label-000000002 b'Guidable\\xe9'"]
