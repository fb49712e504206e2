"""CLIP weights: values that are not finite floats are refused before any is copied; files
that would run code are refused."""
import pickle
import zipfile

import pytest
import torch
from torch import nn

from clip4str_plugin.weights.clip_weights import CLIPWeightsError, load_into
from conftest import Exploit


class Tower(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Parameter(torch.zeros(4, 2))
        self.register_buffer('position_ids', torch.arange(4))


@pytest.mark.parametrize('value,why', [
    (torch.full((4, 2), float('nan')), r'visual\.proj: 8 of 8 values NaN or infinite'),
    (torch.ones(4, 2, dtype=torch.int64), r'visual\.proj: int64'),
    (torch.ones(4, 2).numpy(), r'visual\.proj: a ndarray, not a tensor')])
def test_values_that_are_not_finite_floats_are_refused(value, why):
    tower = Tower()
    state = {'visual.proj': value, 'visual.position_ids': torch.arange(4)}
    with pytest.raises(CLIPWeightsError, match=rf'^CLIP weights clip\.bin holds 1 tensors that '
                                               rf'are not finite floating-point weights \(e\.g\. '
                                               rf'{why}\)'):
        load_into(tower, state, 'visual.', 'clip.bin')
    assert torch.equal(tower.proj, torch.zeros(4, 2))


def test_finite_half_weights_and_integer_buffers_load():
    tower = Tower()
    load_into(tower, {'visual.proj': torch.ones(4, 2).half(),
                      'visual.position_ids': torch.arange(4) + 1}, 'visual.', 'clip.bin')
    assert torch.equal(tower.proj, torch.ones(4, 2))
    assert torch.equal(tower.position_ids, torch.arange(4) + 1)


@pytest.mark.parametrize('pickle_bytes, why', [
    (b'\x80\x02' + b'e' * 4 + b'.', 'IndexError: pop from empty list'),
    (b'\x80\x020.', 'UnpicklingError: Unsupported operand 48')])
def test_a_malformed_pickle_is_one_line(tmp_path, pickle_bytes, why):
    """torch's weights-only reader on bytes that are no pickle: the reason in one line, not
    torch's paragraphs of advice nor a raw IndexError."""
    from clip4str_plugin.weights.clip_weights import load_clip_state_dict
    path = tmp_path / 'clip.pt'
    path.write_bytes(pickle_bytes)
    with pytest.raises(CLIPWeightsError) as err:
        load_clip_state_dict(str(path))
    assert str(err.value) == (f'cannot read CLIP weights from {path}: the file is corrupt, '
                              f'truncated or not a weights file ({why})')


@pytest.mark.filterwarnings('ignore:`torch.jit:FutureWarning')
def test_a_torchscript_archive_that_would_run_code_is_refused(tmp_path):
    """OpenAI-style TorchScript files are read by torch.jit.load: a data.pkl naming os.system is
    one line and nothing runs."""
    marker, scripted, evil = tmp_path / 'pwned', tmp_path / 'ok.pt', tmp_path / 'evil.pt'
    torch.jit.save(torch.jit.script(nn.Linear(2, 2)), str(scripted))
    with zipfile.ZipFile(scripted) as src, zipfile.ZipFile(evil, 'w') as dst:
        for name in src.namelist():
            dst.writestr(name, pickle.dumps({'w': Exploit(marker)}, protocol=2)
                         if name.endswith('/data.pkl') else src.read(name))
    from clip4str_plugin.weights.clip_weights import load_clip_state_dict
    assert set(load_clip_state_dict(str(scripted))) == {'weight', 'bias'}
    with pytest.raises(CLIPWeightsError) as err:
        load_clip_state_dict(str(evil))
    assert str(err.value) == (f'cannot read CLIP weights from {evil}: the file is corrupt, '
                              'truncated or not a weights file (RuntimeError: Unknown type name '
                              "'posix.system':)")
    assert not marker.exists()
