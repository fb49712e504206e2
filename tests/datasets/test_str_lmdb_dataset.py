"""STRLMDBDataset: label rules applied and counted, unreadable images skipped, clear errors."""
import cv2
import numpy as np
import pytest

from clip4str_plugin.datasets import STRLMDBDataset
from clip4str_plugin.datasets.lmdb_io import write_lmdb
from clip4str_plugin.text.charsets import CHARSET_94, DICTS_DIR
from conftest import DICT_94


def png(seed=0, shape=(20, 60, 3)):
    img = (np.random.default_rng(seed).random(shape) * 255).astype(np.uint8)
    return cv2.imencode('.png', img)[1].tobytes()


@pytest.fixture
def messy_lmdb(tmp_path):
    samples = [(png(0), 'good'), (b'not an image', 'corrupt'), (png(1), ''),
               (png(2), 'y' * 30), (png(3), '中文'), (png(4), 'Mixed Case!'), (png(5), 'ok')]
    write_lmdb(str(tmp_path / 'set'), samples)
    return tmp_path


def texts(data):
    return [data.get_data_info(i)['instances'][0]['text'] for i in range(len(data))]


def pipeline():
    return [dict(type='LoadImageFromNDArray'),
            dict(type='Resize', scale=(128, 32), keep_ratio=False, backend='pillow',
                 interpolation='bicubic'),
            dict(type='LoadOCRAnnotations', with_text=True),
            dict(type='PackTextRecogInputs', meta_keys=('img_path', 'ori_shape', 'img_shape',
                                                       'valid_ratio'))]


def test_training_skips_and_counts_bad_samples(messy_lmdb):
    data = STRLMDBDataset(ann_file='set', data_root=str(messy_lmdb), charset=CHARSET_94,
                          pipeline=pipeline())
    assert texts(data) == \
        ['good', 'corrupt', 'MixedCase!', 'ok']
    assert data.label_stats == dict(total=7, kept=4, empty=2, too_long=1)
    # the corrupt image is replaced by another sample, and counted
    item = data[1]
    assert item['data_samples'].gt_text.item in {'good', 'MixedCase!', 'ok'}
    assert item['inputs'].shape == (3, 32, 128)
    assert data.skipped_images >= 1


def test_evaluation_drops_unreadable_images_at_load(messy_lmdb):
    data = STRLMDBDataset(ann_file='set', data_root=str(messy_lmdb), test_mode=True,
                          pipeline=pipeline())
    assert texts(data) == ['good', 'mixedcase', 'ok']
    assert data.label_stats['unreadable_image'] == 1
    assert all(data[i]['inputs'].shape == (3, 32, 128) for i in range(len(data)))


def test_finds_lmdbs_recursively(tmp_path):
    write_lmdb(str(tmp_path / 'root' / 'a'), [(png(0), 'one')])
    write_lmdb(str(tmp_path / 'root' / 'b' / 'c'), [(png(1), 'two'), (png(2), 'three')])
    data = STRLMDBDataset(ann_file=str(tmp_path / 'root'), pipeline=pipeline())
    assert len(data.lmdb_paths) == 2 and len(data) == 3
    assert data[2]['data_samples'].gt_text.item == 'three'


def test_missing_paths_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='LMDB path not found: .*nowhere'):
        STRLMDBDataset(ann_file='nowhere', data_root=str(tmp_path))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match='no LMDB .* at or below .*empty'):
        STRLMDBDataset(ann_file='empty', data_root=str(tmp_path))


def test_dataset_left_empty_says_why(tmp_path):
    write_lmdb(str(tmp_path / 'test'), [(png(i), 'x' * 30) for i in range(3)])
    with pytest.raises(ValueError, match=r'^synth-test: 0 of 3 samples kept \(too_long 3\) from '
                       r".*test: e.g. 'x{30}' is longer than max_label_length=25 "
                       r"\(raise max_label_length\)$"):
        STRLMDBDataset(ann_file='test', data_root=str(tmp_path), name='synth-test')
    write_lmdb(str(tmp_path / 'none'), [])
    with pytest.raises(ValueError, match='^none-set: .*none holds no samples$'):
        STRLMDBDataset(ann_file='none', data_root=str(tmp_path), name='none-set')


def test_labels_outside_the_dictionary_are_an_error_before_training(tmp_path):
    write_lmdb(str(tmp_path / 'train'),
               [(png(0), 'Road'), (png(1), 'RIVER'), (png(2), 'lake'), (png(3), 'x!')])
    dictionary = dict(type='PARSeqDictionary', dict_file=str(DICTS_DIR / 'charset_36.txt'))
    with pytest.raises(ValueError, match=r"^synth-train: 3 of 4 labels use 5 characters the "
                       r"dictionary lacks: 'R' \(2 labels\), '!' \(1 label\), 'E' \(1 "
                       r"label\), 'I' \(1 label\), 'V' \(1 label\); add them to the "
                       r"dictionary's dict_file, or set the dataset's charset to the "
                       r"dictionary's characters$"):
        STRLMDBDataset(ann_file='train', data_root=str(tmp_path), charset=CHARSET_94,
                       name='synth-train', dictionary=dictionary)
    # the dataset's charset fitting the dictionary: labels adapted, nothing refused
    data = STRLMDBDataset(ann_file='train', data_root=str(tmp_path), name='synth-train',
                          dictionary=dictionary)
    assert texts(data) == ['road', 'river', 'lake', 'x']
    data = STRLMDBDataset(ann_file='train', data_root=str(tmp_path), charset=CHARSET_94,
                          dictionary=dict(dictionary, dict_file=DICT_94))
    assert texts(data) == ['Road', 'RIVER', 'lake', 'x!']


GREEK = ['Αθήνα', 'ΟΔΟΣ', 'λόγος', 'Ζεύς', '2024']


def test_greek_labels_need_unicode_folding(tmp_path):
    write_lmdb(str(tmp_path / 'el'), [(png(i), word) for i, word in enumerate(GREEK)])
    # the reference's ASCII folding leaves only '2024': a one-line error, not a silent zero
    with pytest.raises(ValueError, match=r"^greek: 1 of 5 samples kept \(empty 4\) from .*el: "
                       r"e.g. 'Αθήνα' is empty under label_folding='ascii' \(NFKD to ASCII "
                       r"removes other scripts: set label_folding='nfc' and the charset to the "
                       r"labels' dictionary, e.g. 'charset_greek.txt'\)$"):
        STRLMDBDataset(ann_file='el', data_root=str(tmp_path), name='greek', charset=CHARSET_94)
    greek = dict(type='PARSeqDictionary', dict_file='charset_greek.txt')
    data = STRLMDBDataset(ann_file='el', data_root=str(tmp_path), name='greek',
                          charset='charset_greek.txt', label_folding='nfc', dictionary=greek,
                          pipeline=pipeline())
    assert texts(data) == GREEK
    assert data[1]['data_samples'].gt_text.item == 'ΟΔΟΣ'


def test_oversized_images_are_skipped_not_decoded(tmp_path):
    from hostile_images import claimed_png
    samples = [(png(0), 'good'), (claimed_png(40000, 40000), 'huge'),
               (claimed_png(25000, 25000), 'big'), (png(1), 'ok')]
    for name in ('test', 'train'):
        write_lmdb(str(tmp_path / name), samples)
    test = STRLMDBDataset(ann_file=str(tmp_path / 'test'), test_mode=True, pipeline=pipeline())
    assert texts(test) == ['good', 'ok'] and test.label_stats['unreadable_image'] == 2
    train = STRLMDBDataset(ann_file=str(tmp_path / 'train'), pipeline=pipeline())
    assert train.prepare_data(1) is None and train.prepare_data(2) is None
    assert train.skipped_images == 2
    assert train[1]['data_samples'].gt_text.item in {'good', 'ok'}


def test_training_on_unreadable_images_stops_in_one_line(tmp_path):
    from clip4str_plugin.errors import DataError
    from clip4str_plugin.datasets.str_lmdb_dataset import MAX_CONSECUTIVE_UNREADABLE
    write_lmdb(str(tmp_path / 'set'), [(b'junk', f'w{i}') for i in range(5)])
    data = STRLMDBDataset(ann_file=str(tmp_path / 'set'), pipeline=pipeline())
    with pytest.raises(DataError, match=f'{MAX_CONSECUTIVE_UNREADABLE} samples in a row have '
                                        'no usable image .*not a decodable image'):
        data[0]
    assert data.skipped_images == MAX_CONSECUTIVE_UNREADABLE


def test_labels_that_are_not_utf8_are_a_named_skip(tmp_path):
    import lmdb
    write_lmdb(str(tmp_path / 'set'), [(png(0), 'good'), (png(1), 'Guidable'), (png(2), 'ok')])
    env = lmdb.open(str(tmp_path / 'set'), map_size=1 << 20)
    with env.begin(write=True) as txn:
        txn.put(b'label-000000002', 'Guidableé'.encode('latin-1'))
    env.close()
    data = STRLMDBDataset(ann_file=str(tmp_path / 'set'), charset=CHARSET_94)
    assert texts(data) == ['good', 'ok']
    assert data.label_stats == dict(total=3, kept=2, undecodable_label=1)


WORKER_STOP = """
import sys
import clip4str_mmcv_lite, clip4str_plugin  # noqa: F401
from torch.utils.data import DataLoader
from clip4str_plugin.datasets import STRLMDBDataset
from clip4str_plugin.errors import DataError
from mmengine.registry import init_default_scope
init_default_scope('mmocr')
sys.path[:0] = [sys.argv[2], sys.argv[3]]   # this folder, and tests/ (conftest)
from test_str_lmdb_dataset import pipeline
data = STRLMDBDataset(ann_file=sys.argv[1], pipeline=pipeline())
try:
    next(iter(DataLoader(data, batch_size=1, num_workers=1)))
except DataError as err:
    print('STOP', repr(str(err)))
"""


def test_the_stop_stays_one_line_from_a_worker_process(tmp_path):
    """In a process of its own: a DataLoader worker forked inside the test process outlived the
    test (its iterator is held by the raised error) and crashed later tests that used ONNX
    Runtime in that process."""
    import ast
    import subprocess
    import sys
    from pathlib import Path
    write_lmdb(str(tmp_path / 'set'), [(b'junk', f'w{i}') for i in range(5)])
    out = subprocess.run([sys.executable, '-c', WORKER_STOP, str(tmp_path / 'set'),
                          str(Path(__file__).parent), str(Path(__file__).parents[1])],
                         capture_output=True, text=True,
                         timeout=300, cwd=Path(__file__).parents[2])
    stops = [line[5:] for line in out.stdout.split('\n') if line.startswith('STOP ')]
    assert len(stops) == 1, out.stdout + out.stderr
    message = ast.literal_eval(stops[0])
    assert message.startswith(f'{tmp_path / "set"}: 50 samples in a row have no usable image '
                              '(latest ') and '\n' not in message
