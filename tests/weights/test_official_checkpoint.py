"""The authors' checkpoints read by torch's weights-only reader with inert stand-ins: tensors
come out, Lightning / omegaconf objects are inert records, code is never run and nothing shared
is written to; a file that is no official checkpoint is named as such."""
import collections
import io
import pathlib
import pickle
import runpy
import sys
import zipfile

import pytest
import torch
from mmengine.logging.history_buffer import HistoryBuffer

from clip4str_plugin.weights import official_checkpoint
from clip4str_plugin.weights.errors import CheckpointReadError
from clip4str_plugin.weights.official_checkpoint import (OfficialCheckpointError,
                                                         load_official_file,
                                                         read_official_state_dict)
from conftest import ROOT, Exploit
from fixtures.lightning_ckpt import write_lightning_ckpt

# Hand-written pickles (protocol 2). The first replays a reported attack: BUILD on the stand-in
# of torch.FloatStorage setting its dtype to int32, after which float weights read as int32.
POISON_STORAGE = b'\x80\x02ctorch\nFloatStorage\n}X\x05\x00\x00\x00dtypectorch\nint32\nsb0}.'
WRITES_ON_SHARED = {
    # BUILD with slot state on a class / a function of the allow-list: setattr on shared objects
    'BUILD on OrderedDict': b'\x80\x02ccollections\nOrderedDict\nN}X\x04\x00\x00\x00copyK\x01'
                            b's\x86b0}.',
    'BUILD on a rebuild function': b'\x80\x02ctorch._utils\n_rebuild_tensor_v2\nN}X\x0c\x00\x00'
                                   b'\x00__defaults__)s\x86b0}.',
    # SETITEM / APPENDS on allow-listed objects that are not the file's own
    'SETITEM on the set class': b'\x80\x02c__builtin__\nset\nKaKbs0}.',
    'APPENDS on the list class': b'\x80\x02c__builtin__\nlist\n(K\x01e0}.',
    # BUILD on a Lightning stand-in class (making it callable or changing what it builds)
    'BUILD on a stand-in class': b'\x80\x02comegaconf\nRunner\nN}X\x07\x00\x00\x00__new__'
                                 b'K\x01s\x86b0}.',
    'NEWOBJ of a storage type': b'\x80\x02ctorch\nFloatStorage\n)\x81.',
}
NOT_OFFICIAL = ('is not an official CLIP4STR checkpoint (it looks like an MMEngine/plugin '
                'checkpoint: use it directly with load_from / tools/test.py)')


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
def official(tmp_path):
    """A Lightning-like file whose state dict has the keys an official checkpoint must hold."""
    keys = ('clip_model.visual.conv1.weight', 'clip_model.visual.proj',
            'clip_model.token_embedding.weight', 'clip_model.ln_final.weight',
            'visual_decoder.head.weight', 'cross_decoder.head.weight',
            'visual_decoder.pos_queries')
    weights = {key: torch.linspace(-1, 1, 12).view(3, 4) + i for i, key in enumerate(keys)}
    path = tmp_path / 'clip4str_tiny.ckpt'
    write_lightning_ckpt(path, weights)
    return str(path), weights


def test_reads_tensors_and_keeps_lightning_objects_inert(official, tmp_path):
    path, weights = official
    loaded = load_official_file(path)
    hparams, scheduler = loaded['hyper_parameters'], loaded['lr_schedulers'][0]
    assert isinstance(hparams, collections.OrderedDict) and hparams['max_label_length'] == 25
    assert type(hparams['precision']) is collections.OrderedDict   # an enum value: a record
    assert scheduler['anneal_func'] == {'getattr': 'anneal'} and scheduler['last_epoch'] == 3
    # torch 1.12's OneCycleLR state held its bound annealing function: the whole scheduler and
    # its optimizer (defaultdict state, parameters) are pickled with it
    optimizer = torch.optim.AdamW(torch.nn.Linear(3, 2).parameters())
    one_cycle = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=10)
    optimizer.step()
    write_lightning_ckpt(tmp_path / 'sched.ckpt', weights, extra=dict(
        anneal_func=one_cycle.step, dirpath=pathlib.PurePosixPath('/home/x/checkpoints')))
    loaded = load_official_file(str(tmp_path / 'sched.ckpt'))
    assert loaded['anneal_func'] == {'getattr': 'step'} and loaded['dirpath'] == {}
    state = read_official_state_dict(path)
    assert state.keys() == weights.keys()
    for key, value in weights.items():
        assert state[key].dtype == torch.float32 and torch.equal(state[key], value)


def test_a_file_cannot_poison_later_loads(official, tmp_path):
    path, weights = official
    with pytest.raises(OfficialCheckpointError, match=r'^refusing .*poison\.ckpt: Can only build'):
        load_official_file(write_archive(tmp_path / 'poison.ckpt', POISON_STORAGE))
    for key, value in read_official_state_dict(path).items():
        assert value.dtype == torch.float32 and torch.equal(value, weights[key])


@pytest.mark.parametrize('case', sorted(WRITES_ON_SHARED))
def test_writes_on_shared_objects_are_refused(case, official, tmp_path):
    shared = dict(vars(collections.OrderedDict)), torch._utils._rebuild_tensor_v2.__defaults__
    with pytest.raises(OfficialCheckpointError, match=r'^(refusing|cannot read) .*x\.ckpt: '):
        load_official_file(write_archive(tmp_path / 'x.ckpt', WRITES_ON_SHARED[case]))
    assert shared == (dict(vars(collections.OrderedDict)),
                      torch._utils._rebuild_tensor_v2.__defaults__)
    path, weights = official
    assert torch.equal(read_official_state_dict(path)['visual_decoder.pos_queries'],
                       weights['visual_decoder.pos_queries'])


def test_refuses_code_and_never_runs_it(official, tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.ckpt'
    write_lightning_ckpt(path, official[1], extra={'callbacks': Exploit(marker)})
    with pytest.raises(OfficialCheckpointError) as err:
        read_official_state_dict(str(path))
    assert str(err.value).startswith(f'refusing {path}: ') and 'posix.system' in str(err.value)
    assert '\n' not in str(err.value) and not marker.exists()
    buffer = io.BytesIO()      # an object of a class outside Lightning's libraries: refused
    pickle.dump({'hp': _Plain(0.1)}, buffer, protocol=2)
    with pytest.raises(OfficialCheckpointError, match=r'GLOBAL test_official_checkpoint\._Plain'):
        load_official_file(write_archive(tmp_path / 'plain.ckpt', buffer.getvalue()))


def test_an_mmengine_checkpoint_is_named_as_such(tmp_path, monkeypatch):
    training = tmp_path / 'iter_4.pth'          # HistoryBuffer & co.: no Lightning data
    torch.save(dict(meta={}, state_dict={'w': torch.ones(2)},
                    message_hub=dict(log_scalars={'loss': HistoryBuffer()})), str(training))
    converted = tmp_path / 'b16.pth'            # what tools/convert_clip4str_ckpt.py writes
    torch.save(dict(state_dict={'backbone.visual.proj': torch.ones(2)}, meta={}), str(converted))
    for path in (training, converted):
        with pytest.raises(OfficialCheckpointError) as err:
            read_official_state_dict(str(path))
        assert str(err.value) == f'{path} {NOT_OFFICIAL}'
    monkeypatch.setattr(sys, 'argv', ['convert_clip4str_ckpt.py', str(training),
                                      str(tmp_path / 'out.pth')])
    with pytest.raises(SystemExit) as exit:
        runpy.run_path(str(ROOT / 'tools' / 'convert_clip4str_ckpt.py'), run_name='__main__')
    assert exit.value.code == f'error: {training} {NOT_OFFICIAL}'
    assert not (tmp_path / 'out.pth').exists()


def test_mmengine_files_are_told_by_the_globals_they_name(official, tmp_path, monkeypatch):
    """Decided from the pickle's listed globals before loading (any protocol), never from the
    text of torch's error: a Lightning file refused with 'mmengine.' in the text stays refused
    as it was; an MMEngine file is named without torch being asked."""
    training = tmp_path / 'iter_4.pth'
    torch.save(dict(meta={}, message_hub=dict(loss=HistoryBuffer())), str(training),
               pickle_protocol=4)                     # globals named by STACK_GLOBAL
    refused = CheckpointReadError('refusing x: Unsupported global: GLOBAL mmengine.Foo')
    monkeypatch.setattr(official_checkpoint, 'torch_load', _raiser(refused))
    with pytest.raises(OfficialCheckpointError) as err:
        read_official_state_dict(official[0])
    assert str(err.value) == str(refused)
    monkeypatch.setattr(official_checkpoint, 'torch_load', _raiser(
        CheckpointReadError('refusing x: Unsupported global: GLOBAL builtins.set')))
    with pytest.raises(OfficialCheckpointError) as err:
        read_official_state_dict(str(training))
    assert str(err.value) == f'{training} {NOT_OFFICIAL}'


def _raiser(error):
    def raise_it(*args, **kwargs):
        raise error
    return raise_it


class _Plain:

    def __init__(self, lr):
        self.lr = lr
