"""LMDB writer and readers: an interrupted write never loads as complete, existing LMDBs are not
overwritten by accident, damaged counts and missing roots are named."""
import importlib.util
import os
import signal
import subprocess
import sys
import textwrap

import lmdb
import pytest

from clip4str_plugin.datasets import STRLMDBDataset
from clip4str_plugin.datasets.lmdb_io import (IN_PROGRESS_KEY, IncompleteLMDBError,
                                              LMDBExistsError, LMDBWriter, describe_existing,
                                              find_lmdbs, iter_labels, tool_writer, write_lmdb)

PACKAGE = os.path.dirname(importlib.util.find_spec('clip4str_plugin').origin)

# a writer that commits every 5 samples, says when 10 are committed, then keeps writing slowly;
# the packages are bare modules (their __init__ not run: no MMOCR import), so that the child
# starts in a fraction of a second
WRITER = textwrap.dedent(f"""
    import signal, sys, time, types
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    for name, path in [('clip4str_plugin', {PACKAGE!r}),
                       ('clip4str_plugin.datasets', {PACKAGE!r} + '/datasets')]:
        sys.modules[name] = types.ModuleType(name)
        sys.modules[name].__path__ = [path]
    from clip4str_plugin.datasets import lmdb_io
    with lmdb_io.LMDBWriter(sys.argv[1], commit_every=5) as writer:
        for i in range(1, 100000):
            writer.add(b'image', f'word{{i}}')
            if i == 10:
                print('committed', flush=True)
            time.sleep(0.01 if i < 10 else 0.05)
""")


def labels(path):
    return [label for _, label in iter_labels(str(path))]


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGKILL])
def test_interrupted_writer_leaves_an_lmdb_that_does_not_load(tmp_path, sig):
    out = tmp_path / 'partial'
    proc = subprocess.Popen([sys.executable, '-c', WRITER, str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == 'committed', proc.stderr.read()
    proc.send_signal(sig)
    proc.wait(timeout=30)
    assert proc.returncode != 0
    env = lmdb.open(str(out), readonly=True, lock=False)
    with env.begin() as txn:        # what was committed is there, but no count and the mark
        assert txn.get(b'label-000000010') == b'word10'
        assert txn.get(b'num-samples') is None and txn.get(IN_PROGRESS_KEY) is not None
    env.close()
    with pytest.raises(IncompleteLMDBError, match=f'{out} is an incomplete LMDB: its writer '
                       'was interrupted'):
        labels(out)
    with pytest.raises(IncompleteLMDBError, match='partial is an incomplete LMDB'):
        STRLMDBDataset(ann_file=str(tmp_path))


def test_clean_close_completes_and_exception_abandons(tmp_path):
    assert write_lmdb(str(tmp_path / 'done'), [(b'a', 'one'), (b'b', 'two')]) == 2
    assert labels(tmp_path / 'done') == ['one', 'two']
    with pytest.raises(RuntimeError):
        with LMDBWriter(str(tmp_path / 'failed'), commit_every=1) as writer:
            writer.add(b'a', 'one')
            raise RuntimeError('renderer crashed')
    with pytest.raises(IncompleteLMDBError):
        labels(tmp_path / 'failed')


def test_standard_lmdb_without_the_mark_loads(tmp_path):
    """LMDBs of other tools (no in-progress key) load as before."""
    env = lmdb.open(str(tmp_path / 'other'), map_size=1 << 20)
    with env.begin(write=True) as txn:
        txn.put(b'num-samples', b'2')
        for i, word in enumerate(['abc', 'xyz'], 1):
            txn.put(b'label-%09d' % i, word.encode())
            txn.put(b'image-%09d' % i, b'png')
    env.close()
    assert labels(tmp_path / 'other') == ['abc', 'xyz']


def test_existing_lmdb_is_refused_unless_overwrite(tmp_path):
    out = str(tmp_path / 'set')
    write_lmdb(out, [(b'a', f'w{i}') for i in range(200)])
    (tmp_path / 'set' / 'notes.txt').write_text('kept')
    with pytest.raises(LMDBExistsError, match='set already holds an LMDB of 200 samples; '
                       'not overwritten'):
        LMDBWriter(out)
    assert len(labels(out)) == 200                     # untouched
    write_lmdb(out, [(b'a', f'n{i}') for i in range(10)], overwrite=True)
    assert labels(out) == [f'n{i}' for i in range(10)]
    env = lmdb.open(out, readonly=True, lock=False)   # nothing of the old one is left
    assert env.stat()['entries'] == 21                 # 10 images, 10 labels, num-samples
    env.close()
    assert (tmp_path / 'set' / 'notes.txt').read_text() == 'kept'
    # an empty folder, or an LMDB without entries, is simply written
    (tmp_path / 'empty').mkdir()
    lmdb.open(str(tmp_path / 'empty')).close()
    assert describe_existing(str(tmp_path / 'empty')) == ''
    assert write_lmdb(str(tmp_path / 'empty'), [(b'a', 'x')]) == 1


def test_tool_writer_ends_in_one_line(tmp_path):
    out = str(tmp_path / 'set')
    with pytest.raises(SystemExit, match='interrupted: .*set is incomplete and will not load; '
                       'run again with --overwrite'):
        with tool_writer(out, overwrite=False) as writer:
            writer.add(b'a', 'one')
            raise KeyboardInterrupt
    assert 'incomplete' in describe_existing(out)
    with pytest.raises(SystemExit, match='set already holds an incomplete LMDB .*; not '
                       'overwritten: pass --overwrite to replace it'):
        with tool_writer(out, overwrite=False):
            pass
    with tool_writer(out, overwrite=True) as writer:
        writer.add(b'a', 'again')
    assert labels(out) == ['again']


def test_damaged_count_names_the_lmdb(tmp_path):
    env = lmdb.open(str(tmp_path / 'bad'), map_size=1 << 20)
    with env.begin(write=True) as txn:
        txn.put(b'num-samples', b'abc')
    env.close()
    with pytest.raises(ValueError, match=r"bad: num-samples is 'abc', not a count of samples"):
        labels(tmp_path / 'bad')


def test_missing_relative_root_names_the_directory_and_variables(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError,
                       match=f'LMDB path not found: data/synth/train \\(relative to the current '
                             f'directory {tmp_path}; the configs read the data root from '
                             'SYNTH_DATA_ROOT .* or STR_DATA_ROOT'):
        find_lmdbs('data/synth/train')
    with pytest.raises(FileNotFoundError, match='not found: /nowhere/train$'):
        find_lmdbs('/nowhere/train')


def test_a_count_beyond_the_entries_is_refused_at_once(tmp_path):
    write_lmdb(str(tmp_path / 'set'), [(b'a', 'one'), (b'b', 'two')])
    env = lmdb.open(str(tmp_path / 'set'), map_size=1 << 20)
    with env.begin(write=True) as txn:
        txn.put(b'num-samples', b'1000000000000000')
    env.close()
    with pytest.raises(ValueError, match=r'set: num-samples claims 1000000000000000 samples but '
                                         r'the LMDB holds only 5 keys'):
        labels(tmp_path / 'set')


def test_labels_not_in_utf8_are_collected_or_refused(tmp_path):
    write_lmdb(str(tmp_path / 'set'), [(b'a', 'one'), (b'b', 'two')])
    env = lmdb.open(str(tmp_path / 'set'), map_size=1 << 20)
    with env.begin(write=True) as txn:
        txn.put(b'label-000000001', 'Guidableé'.encode('latin-1'))
    env.close()
    undecodable = []
    assert list(iter_labels(str(tmp_path / 'set'), undecodable)) == [(2, 'two')]
    assert undecodable == [(1, b'Guidable\xe9')]
    with pytest.raises(ValueError, match=r"label-000000001 is not UTF-8 \(b'Guidable\\xe9'\)"):
        labels(tmp_path / 'set')
