"""make_synth_lmdb --words el: Greek words rendered into an LMDB that STRLMDBDataset reads back
as Unicode labels (label_folding='nfc', charset_greek.txt)."""
import numpy as np

from clip4str_plugin.datasets import STRLMDBDataset
from clip4str_plugin.datasets.lmdb_io import iter_labels
from clip4str_plugin.text.charsets import charset_of
from conftest import run_tool


def test_make_synth_lmdb_renders_greek(tmp_path, monkeypatch):
    out = tmp_path / 'el'
    assert run_tool('make_synth_lmdb.py', out, '--num', '12', '--split', 'val', '--words', 'el',
                    '--workers', '1', '--max-len', '8', monkeypatch=monkeypatch) == ''
    labels = [label for _, label in iter_labels(str(out))]
    assert len(labels) == 12 and set(''.join(labels)) <= set(charset_of('charset_greek.txt'))
    assert sum(any('α' <= c <= 'ω' or 'Α' <= c <= 'Ω' for c in w) for w in labels) >= 9
    data = STRLMDBDataset(ann_file=str(out), charset='charset_greek.txt', label_folding='nfc',
                          test_mode=True,
                          dictionary=dict(type='PARSeqDictionary', dict_file='charset_greek.txt'))
    assert [data.get_data_info(i)['instances'][0]['text'] for i in range(12)] == labels
    img = data._read(data.get_data_info(0))
    assert img.ndim == 3 and img.shape[0] >= 24 and float(np.std(img)) > 5
