"""The data-only unpickler reads tensors and refuses to run code."""
import io
import pickle
import zipfile

import pytest
import torch

from clip4str_plugin.weights.safe_pickle import (Opaque, UnsafePickleError, iter_tensors,
                                                 load_zip_pickle)
from conftest import Exploit


def test_refuses_code_and_never_runs_it(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pt'
    torch.save({'state_dict': {'w': torch.ones(2)}, 'payload': Exploit(marker)}, str(path))
    with pytest.raises(UnsafePickleError, match='system'):
        load_zip_pickle(str(path))
    assert not marker.exists()


def test_reads_tensors_and_inert_objects(tmp_path):
    path = tmp_path / 'ok.pt'
    weights = {'a.weight': torch.arange(6.).view(2, 3).t(), 'b': torch.tensor([1, 2])}
    torch.save({'state_dict': weights, 'epoch': 3}, str(path))
    loaded = load_zip_pickle(str(path))
    assert loaded['epoch'] == 3
    for key, value in weights.items():
        assert torch.equal(loaded['state_dict'][key], value)
    # an object of an unknown class is rebuilt as inert data
    buffer = io.BytesIO()
    pickle.dump({'hp': _Plain(lr=0.1)}, buffer, protocol=2)
    with zipfile.ZipFile(tmp_path / 'hp.pt', 'w') as archive:
        archive.writestr('hp/data.pkl', buffer.getvalue())
    hp = load_zip_pickle(str(tmp_path / 'hp.pt'))['hp']
    assert isinstance(hp, Opaque) and hp.state == {'lr': 0.1}
    assert dict(iter_tensors({'m': weights})) == {f'm.{k}': v for k, v in weights.items()}


class _Plain:

    def __init__(self, lr):
        self.lr = lr
