"""Archives that would inflate far beyond their size are refused from their directory, before
any record is decompressed, on every path that reads a torch zip archive."""
import zipfile

import pytest
import torch

from clip4str_plugin.weights import zip_limits
from clip4str_plugin.weights.clip_weights import CLIPWeightsError, load_clip_state_dict
from clip4str_plugin.weights.errors import CheckpointReadError
from clip4str_plugin.weights.loading import check_checkpoint_file
from clip4str_plugin.weights.official_checkpoint import read_official_state_dict

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
