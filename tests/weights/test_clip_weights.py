"""CLIP weights files: malformed files are one line; files that would run code are refused."""
import pickle
import zipfile

import pytest
import torch
from torch import nn

from clip4str_plugin.weights.clip_weights import CLIPWeightsError, load_clip_state_dict
from conftest import Exploit


@pytest.mark.parametrize('pickle_bytes, why', [
    (b'\x80\x02' + b'e' * 4 + b'.', 'IndexError: pop from empty list'),
    (b'\x80\x020.', 'Unsupported operand 48')])
def test_a_malformed_pickle_is_one_line(tmp_path, pickle_bytes, why):
    """torch's weights-only reader on bytes that are no pickle: the reason in one line, not
    torch's paragraphs of advice nor a raw IndexError."""
    path = tmp_path / 'clip.pt'
    path.write_bytes(pickle_bytes)
    with pytest.raises(CLIPWeightsError) as err:
        load_clip_state_dict(str(path))
    assert str(err.value) == f'cannot read checkpoint {path}: damaged ({why})'


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
    assert set(load_clip_state_dict(str(scripted))) == {'weight', 'bias'}
    with pytest.raises(CLIPWeightsError) as err:
        load_clip_state_dict(str(evil))
    assert str(err.value) == (f'cannot read CLIP weights from {evil}: the file is corrupt, '
                              'truncated or not a weights file (RuntimeError: Unknown type name '
                              "'posix.system':)")
    assert not marker.exists()
