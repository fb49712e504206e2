"""tools/make_lmdb.py and make_synth_lmdb.py: awkward label files, and no LMDB replaced without
--overwrite (run in-process, as their command lines)."""

import cv2
import numpy as np
import pytest

from clip4str_plugin.datasets.lmdb_io import iter_labels
from conftest import run_tool


def labels(path):
    return [label for _, label in iter_labels(str(path))]


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / 'images'
    folder.mkdir()
    for i in range(4):
        cv2.imwrite(str(folder / f'{i}.png'), np.full((20, 50, 3), 60 * i, np.uint8))
    (folder / 'broken.png').write_bytes(b'not a png')
    return folder


def test_bom_blank_and_whitespace_labels_are_handled(images, tmp_path, monkeypatch, capsys):
    ann = tmp_path / 'labels.txt'
    ann.write_bytes('\ufeff0.png\thello world\r\n1.png\t  \r\n\r\n2.png caf\u00e9\n'
                    '3.png\nbroken.png\tx\nmissing.png\ty\n'.encode('utf-8'))
    assert run_tool('make_lmdb.py', images, ann, tmp_path / 'out', monkeypatch=monkeypatch) == ''
    assert labels(tmp_path / 'out') == ['hello world', 'caf\u00e9']
    out = capsys.readouterr().out
    assert 'wrote 2 samples' in out
    assert 'skipped 2 (empty label): 1.png, 3.png' in out
    assert 'skipped 1 (missing image): missing.png' in out
    assert 'skipped 1 (unreadable image): broken.png' in out


def test_undecodable_label_file_names_file_and_line(images, tmp_path, monkeypatch):
    ann = tmp_path / 'latin.txt'
    ann.write_bytes('0.png\tcafe\n1.png\tna\u00efve\n'.encode('latin-1'))
    message = run_tool('make_lmdb.py', images, ann, tmp_path / 'out', monkeypatch=monkeypatch)
    assert message.startswith(f'{ann}, line 2: not valid utf-8 (byte 0xef); convert the file '
                              'to UTF-8, or name its encoding (make_lmdb.py --encoding')
    assert not (tmp_path / 'out').exists()           # nothing written, nothing to clean up
    assert run_tool('make_lmdb.py', images, ann, tmp_path / 'out', '--encoding', 'latin-1',
                    monkeypatch=monkeypatch) == ''
    assert labels(tmp_path / 'out') == ['cafe', 'na\u00efve']


def test_make_lmdb_refuses_an_existing_lmdb_unless_overwrite(images, tmp_path, monkeypatch):
    big, small = tmp_path / 'big.txt', tmp_path / 'small.txt'
    big.write_text(''.join(f'{i % 4}.png\tword{i}\n' for i in range(200)))
    small.write_text(''.join(f'{i % 4}.png\tnew{i}\n' for i in range(10)))
    out = tmp_path / 'out'
    assert run_tool('make_lmdb.py', images, big, out, monkeypatch=monkeypatch) == ''
    message = run_tool('make_lmdb.py', images, small, out, monkeypatch=monkeypatch)
    assert message == f'error: {out} already holds an LMDB of 200 samples; not overwritten: pass ' \
        '--overwrite to replace it'
    assert len(labels(out)) == 200
    assert run_tool('make_lmdb.py', images, small, out, '--overwrite',
                    monkeypatch=monkeypatch) == ''
    assert labels(out) == [f'new{i}' for i in range(10)]


def test_make_synth_lmdb_refuses_an_existing_lmdb_unless_overwrite(tmp_path, monkeypatch):
    out = tmp_path / 'synth'
    common = ['--split', 'test', '--workers', '1', '--max-len', '6']
    assert run_tool('make_synth_lmdb.py', out, '--num', '6', *common,
                    monkeypatch=monkeypatch) == ''
    first = labels(out)
    assert len(first) == 6
    message = run_tool('make_synth_lmdb.py', out, '--num', '3', *common,
                       monkeypatch=monkeypatch)
    assert message == f'error: {out} already holds an LMDB of 6 samples; not overwritten: pass ' \
        '--overwrite to replace it'
    assert run_tool('make_synth_lmdb.py', out, '--num', '3', '--seed', '1', '--overwrite',
                    *common, monkeypatch=monkeypatch) == ''
    assert len(labels(out)) == 3


def test_oversized_images_and_fifos_are_skipped_and_counted(images, tmp_path, monkeypatch,
                                                           capsys):
    from hostile_images import claimed_png, fifo
    (images / 'huge.png').write_bytes(claimed_png(40000, 40000))
    fifo(images / 'pipe.png')
    ann = tmp_path / 'labels.txt'
    ann.write_text('0.png\tok\nhuge.png\tbig\npipe.png\tpipe\n')
    assert run_tool('make_lmdb.py', images, ann, tmp_path / 'out', monkeypatch=monkeypatch) == ''
    assert labels(tmp_path / 'out') == ['ok']
    out = capsys.readouterr().out
    assert 'skipped 1 (image over the pixel limit): huge.png' in out
    assert 'skipped 1 (not a regular file): pipe.png' in out
