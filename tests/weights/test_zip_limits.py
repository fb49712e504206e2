"""Archives that would inflate far beyond their size are refused from their directory, before
any record is decompressed, on every path that reads a torch zip archive; one read parses the
directory once; a pickle's globals are listed from its opcodes."""
import collections
import pickle
import zipfile

import pytest
import torch

from clip4str_plugin.weights import zip_limits
from clip4str_plugin.weights.clip_weights import CLIPWeightsError, load_clip_state_dict
from clip4str_plugin.weights.errors import CheckpointReadError
from clip4str_plugin.weights.loading import check_checkpoint_file, load_checkpoint_file
from clip4str_plugin.weights.official_checkpoint import load_official_file, read_official_state_dict

FLOOR = 1 << 20     # the tests lower the floor: 2 MiB of zeros deflate to about 2 KB


@pytest.fixture
def bomb(tmp_path, monkeypatch):
    """A torch.save archive re-compressed, with a 2 MiB record of zeros (over 100 times)."""
    monkeypatch.setattr(zip_limits, 'INFLATION_FLOOR', FLOOR)
    plain, packed = tmp_path / 'plain.pth', tmp_path / 'bomb.pth'
    torch.save(dict(state_dict=dict(w=torch.zeros(1 << 19))), str(plain))
    with zipfile.ZipFile(plain) as src, \
            zipfile.ZipFile(packed, 'w', zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    return packed


def test_inflating_archives_are_refused_on_every_path(bomb):
    why = r'record .*data/0 would inflate \d+ compressed bytes to 2097152 \(over 100 times\)'
    with pytest.raises(CheckpointReadError, match=rf'cannot read checkpoint .*bomb\.pth: {why}'):
        check_checkpoint_file(str(bomb))
    with pytest.raises(CLIPWeightsError, match=why):
        load_clip_state_dict(str(bomb))
    with pytest.raises(CheckpointReadError, match=why):
        read_official_state_dict(str(bomb))


def test_many_small_records_count_together(tmp_path, monkeypatch):
    monkeypatch.setattr(zip_limits, 'INFLATION_FLOOR', FLOOR)
    monkeypatch.setattr(zip_limits, 'MAX_INFLATION', 500)   # each record alone passes
    path = tmp_path / 'many.zip'
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as archive:
        for i in range(8):
            archive.writestr(f'r{i}', b'\0' * (FLOOR // 4))
    with zipfile.ZipFile(path) as archive:
        assert zip_limits.inflation_problem(archive).startswith(
            'its 8 records would inflate')


def test_stored_checkpoints_pass(tmp_path, monkeypatch):
    monkeypatch.setattr(zip_limits, 'INFLATION_FLOOR', 0)
    path = tmp_path / 'plain.pth'
    torch.save(dict(state_dict=dict(w=torch.zeros(1 << 19))), str(path))
    assert check_checkpoint_file(str(path)) == str(path)


@pytest.mark.filterwarnings('ignore:`torch.jit:FutureWarning')
def test_one_read_parses_the_zip_directory_once(tmp_path, monkeypatch):
    plain, scripted = str(tmp_path / 'clip.pt'), str(tmp_path / 'script.pt')
    torch.save(dict(state_dict={'visual.proj': torch.ones(2, 3)}), plain)
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), scripted)
    parsed = []

    class Counted(zipfile.ZipFile):

        def __init__(self, file, *args, **kwargs):
            parsed.append(file)
            super().__init__(file, *args, **kwargs)

    monkeypatch.setattr(zipfile, 'ZipFile', Counted)
    for read, path, key in ((load_clip_state_dict, plain, 'visual.proj'),
                            (load_clip_state_dict, scripted, 'weight'),
                            (lambda p: load_checkpoint_file(p, mmap=True)['state_dict'], plain,
                             'visual.proj'),
                            (lambda p: load_official_file(p)['state_dict'], plain, 'visual.proj')):
        parsed.clear()
        assert key in read(path) and parsed == [path], (read, path)


def test_globals_are_listed_from_the_opcodes():
    table = [collections.OrderedDict, collections.defaultdict, zipfile.ZipInfo]
    for protocol in (0, 2, 4, 5):     # (4, 5: STACK_GLOBAL, 'collections' fetched from the memo)
        assert zip_limits.pickle_globals(pickle.dumps(table, protocol=protocol)) == {
            'collections.OrderedDict', 'collections.defaultdict', 'zipfile.ZipInfo'}
    assert zip_limits.pickle_globals(pickle.dumps({'a': [1, 'b']}, protocol=4)) == set()
    with pytest.raises(ValueError):
        zip_limits.pickle_globals(b'\x80\x02\xff.')
