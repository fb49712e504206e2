"""The data-only unpickler (official Lightning files, TorchScript archives): tensors and inert
records come out; code is never run and nothing shared is ever written to."""
import io
import pickle
import zipfile

import pytest
import torch

from clip4str_plugin.weights.safe_pickle import iter_tensors, load_zip_pickle
from clip4str_plugin.weights.unpickler import DataOnlyUnpickler, Opaque, UnsafePickleError
from conftest import Exploit

# Hand-written pickles (protocol 2). The first replays the reported attack: BUILD on the stand-in
# of torch.FloatStorage setting its dtype to int32, after which float weights read as int32.
POISON_STORAGE = b'\x80\x02ctorch\nFloatStorage\n}X\x05\x00\x00\x00dtypectorch\nint32\nsb0}.'
WRITES_ON_SHARED = {
    # BUILD with slot state on a class / a function of the allow-list: setattr on shared objects
    'BUILD on OrderedDict': b'\x80\x02ccollections\nOrderedDict\nN}X\x04\x00\x00\x00copyK\x01'
                            b's\x86b0}.',
    'BUILD on a rebuild function': b'\x80\x02ctorch._utils\n_rebuild_tensor_v2\nN}X\x0c\x00\x00'
                                   b'\x00__defaults__)s\x86b0}.',
    # SETITEM / APPENDS on allow-listed objects that are not the file's own
    'SETITEM on a stand-in': b'\x80\x02ccollections\ndefaultdict\nKaKbs0}.',
    'APPENDS on the list class': b'\x80\x02cbuiltins\nlist\n(K\x01e0}.',
    # turning an inert opaque class into a callable one, or its records into something else
    'BUILD on an opaque class': b'\x80\x02cevil\nRunner\nN}X\x0b\x00\x00\x00inert_calls'
                                b'\x88s\x86b0}.',
    'NEWOBJ of a stand-in': b'\x80\x02ctorch\nFloatStorage\n)\x81.',
}


def write_archive(path, pkl: bytes, storages=None):
    """A torch zip archive (as torch.save writes it) holding ``pkl`` as its data.pkl."""
    with zipfile.ZipFile(path, 'w') as archive:
        archive.writestr('archive/data.pkl', pkl)
        archive.writestr('archive/byteorder', 'little')
        archive.writestr('archive/version', '3\n')
        for key, data in (storages or {}).items():
            archive.writestr(f'archive/data/{key}', data)
    return str(path)


@pytest.fixture
def genuine(tmp_path):
    weights = {'w': torch.linspace(-1, 1, 12).view(3, 4), 'b': torch.tensor([0.5, 1.5])}
    path = tmp_path / 'genuine.ckpt'
    torch.save({'state_dict': weights, 'epoch': 3}, str(path))
    return str(path), weights


def test_a_file_cannot_poison_later_loads(genuine, tmp_path):
    path, weights = genuine
    with pytest.raises(UnsafePickleError, match='refusing BUILD on'):
        load_zip_pickle(write_archive(tmp_path / 'poison.ckpt', POISON_STORAGE),
                        inert_modules=['omegaconf'])
    loaded = load_zip_pickle(path)['state_dict']
    for key, value in weights.items():
        assert loaded[key].dtype == torch.float32 and torch.equal(loaded[key], value)


@pytest.mark.parametrize('case', sorted(WRITES_ON_SHARED))
def test_writes_on_shared_objects_are_refused(case, genuine, tmp_path):
    with pytest.raises(UnsafePickleError, match='refusing'):
        load_zip_pickle(write_archive(tmp_path / 'x.ckpt', WRITES_ON_SHARED[case]),
                        inert_modules=['omegaconf'])
    path, weights = genuine
    assert torch.equal(load_zip_pickle(path)['state_dict']['w'], weights['w'])


def test_no_allow_listed_global_can_be_written_to():
    unpickler = DataOnlyUnpickler(io.BytesIO(b''), read_storage=None, inert_modules=['omegaconf'])
    names = [('torch', 'FloatStorage'), ('torch', 'float32'), ('torch', 'Size'),
             ('torch._utils', '_rebuild_tensor_v2'), ('collections', 'OrderedDict'),
             ('collections', 'defaultdict'), ('builtins', 'dict'), ('builtins', 'list'),
             ('numpy', 'dtype'), ('numpy.core.multiarray', '_reconstruct'),
             ('copyreg', '_reconstructor'), ('builtins', 'getattr'), ('omegaconf', 'DictConfig')]
    for module, name in names:
        assert not unpickler.is_record(unpickler.find_class(module, name)), (module, name)
    assert unpickler.find_class('torch', 'FloatStorage') is not DataOnlyUnpickler(
        io.BytesIO(b''), None).find_class('torch', 'FloatStorage')     # one copy per load


def test_refuses_code_and_never_runs_it(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pt'
    torch.save({'state_dict': {'w': torch.ones(2)}, 'payload': Exploit(marker)}, str(path))
    with pytest.raises(UnsafePickleError, match='refusing to call posix.system'):
        load_zip_pickle(str(path))
    assert not marker.exists()


def test_reads_tensors_numpy_and_inert_objects(tmp_path):
    import numpy as np
    path = tmp_path / 'ok.pt'
    weights = {'a.weight': torch.arange(6.).view(2, 3).t(), 'b': torch.tensor([1, 2])}
    torch.save({'state_dict': weights, 'epoch': 3, 'best': np.float64(0.5),
                'scores': np.arange(3.)}, str(path))
    loaded = load_zip_pickle(str(path))
    assert loaded['epoch'] == 3 and loaded['best'] == 0.5
    assert np.array_equal(loaded['scores'], np.arange(3.))
    for key, value in weights.items():
        assert torch.equal(loaded['state_dict'][key], value)
    # an object of an unknown class is rebuilt as inert data
    buffer = io.BytesIO()
    pickle.dump({'hp': _Plain(lr=0.1)}, buffer, protocol=2)
    hp = load_zip_pickle(write_archive(tmp_path / 'hp.pt', buffer.getvalue()))['hp']
    assert isinstance(hp, Opaque) and hp.state == {'lr': 0.1}
    assert dict(iter_tensors({'m': weights})) == {f'm.{k}': v for k, v in weights.items()}


class _Plain:

    def __init__(self, lr):
        self.lr = lr
