"""Weights-only loading of MMEngine checkpoints through torch's reader: the plugin's own files
load; hostile, poisoning and broken files are refused with one line; the switch."""
import numpy as np
import pytest
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.optim.scheduler.param_scheduler import OneCycleParamScheduler
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

from broken_checkpoints import EXPECTED, unreadable_copies
from clip4str_plugin.weights.errors import CheckpointNotFoundError, CheckpointReadError
from clip4str_plugin.weights.loading import load_checkpoint_file
from clip4str_plugin.weights.official_checkpoint import load_official_file
from clip4str_plugin.weights.safe_loading import load_from_weights_only, use_weights_only_loader
from conftest import Exploit, make_samples, run_python, tiny_model
from test_official_checkpoint import POISON_STORAGE, write_archive

# Writes a file could try on what torch's reader allows for MMEngine checkpoints.
POISONS = {
    'storage dtype': POISON_STORAGE,
    'HistoryBuffer class': b'\x80\x02cmmengine.logging.history_buffer\nHistoryBuffer\nN}X\x07'
                           b'\x00\x00\x00currentK\x00s\x86b0}.',
    'getattr result': b'\x80\x02c__builtin__\ngetattr\ncmmengine.logging.history_buffer\n'
                      b'HistoryBuffer\nX\x03\x00\x00\x00min\x86RN}X\x0c\x00\x00\x00__defaults__'
                      b')s\x86b0}.',
    'scheduler stand-in': b'\x80\x02cmmengine.optim.scheduler.param_scheduler\n'
                          b'OneCycleParamScheduler\nN}X\x03\x00\x00\x00clsK\x00s\x86b0}.',
}

# Allowed but harmless: numpy's shared float64 dtype "rebuilt" big-endian (numpy ignores the
# state of its builtin dtypes; the dtypes of a checkpoint's arrays are fresh copies).
BIG_ENDIAN_FLOAT64 = (b'\x80\x02}X\x01\x00\x00\x00dcnumpy.dtypes\nFloat64DType\n)R(K\x03X\x01'
                      b'\x00\x00\x00>NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tbs.')


def mmengine_like_checkpoint(state_dict=None):
    buffer = HistoryBuffer()
    buffer.update(0.5)
    return dict(meta=dict(iter=4, cfg='model = dict()', seed=np.int64(0)),
                state_dict=state_dict if state_dict is not None else {'w': torch.ones(3)},
                message_hub=dict(log_scalars={'train/loss': buffer},
                                 runtime_info=dict(eta=np.float64(1.5))),
                optimizer=dict(state={}, param_groups=[dict(lr=0.1, params=[0])]),
                param_schedulers=[dict(anneal_func=OneCycleParamScheduler._annealing_cos,
                                       total_steps=4)])


def test_loads_history_buffers_numpy_and_schedulers_without_the_global_switch(tmp_path,
                                                                               monkeypatch):
    monkeypatch.delenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', raising=False)
    monkeypatch.setattr(CheckpointLoader, '_schemes', dict(CheckpointLoader._schemes))
    path = str(tmp_path / 'iter_4.pth')
    torch.save(mmengine_like_checkpoint(), path)
    with pytest.raises(Exception):          # what plain weights-only torch.load does
        torch.load(path, weights_only=True)   # (the default since torch 2.6)
    use_weights_only_loader()
    use_weights_only_loader()                               # idempotent
    assert CheckpointLoader._schemes[''] is load_from_weights_only
    assert list(CheckpointLoader._schemes).count('') == 1
    loaded = _load_checkpoint(path, map_location='cpu')   # MMEngine's own entry point
    assert loaded['meta']['iter'] == 4 and torch.equal(loaded['state_dict']['w'], torch.ones(3))
    buffer = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer) and buffer.current() == 0.5
    assert loaded['message_hub']['runtime_info']['eta'] == 1.5
    assert loaded['param_schedulers'][0]['anneal_func'] is OneCycleParamScheduler._annealing_cos
    assert not set(torch.serialization.get_safe_globals()) & {HistoryBuffer}   # only while loading


def test_refuses_a_planted_exploit(tmp_path):
    marker = tmp_path / 'marker'
    path = str(tmp_path / 'evil.pth')
    ckpt = mmengine_like_checkpoint()
    ckpt['meta']['payload'] = Exploit(marker)
    torch.save(ckpt, path)
    with pytest.raises(CheckpointReadError, match=r'^refusing .*evil.pth: .*posix.system'):
        load_checkpoint_file(path)
    assert not marker.exists()


def predict(model, image):
    return model.test_step(dict(inputs=[image], data_samples=make_samples([''])))[0].pred_text


def test_a_file_cannot_poison_later_loads(tmp_path):
    """The reported attack and its variants, each followed by a genuine checkpoint in the same
    process (as TextSpotter loads the detector, then the recognizer): same tensors, same text."""
    model = tiny_model()
    image = torch.from_numpy((np.random.default_rng(1).random((3, 32, 128)) * 255).astype('uint8'))
    expected = predict(model, image)
    genuine, plain = str(tmp_path / 'iter_10.pth'), str(tmp_path / 'weights.pt')
    torch.save(mmengine_like_checkpoint(model.state_dict()), genuine)
    torch.save({'state_dict': model.state_dict()}, plain)   # as official / CLIP files are read
    statistics = {name: getattr(HistoryBuffer, name) for name in ('min', 'current')}
    defaults = HistoryBuffer.min.__defaults__
    for name, pkl in POISONS.items():
        with pytest.raises(CheckpointReadError, match='^refusing'):
            load_checkpoint_file(write_archive(tmp_path / f'{len(name)}.pth', pkl))
        with pytest.raises(CheckpointReadError, match='refusing|not an official'):  # the other
            load_official_file(write_archive(tmp_path / f'{len(name)}.ckpt', pkl))
    load_checkpoint_file(write_archive(tmp_path / 'dtype.pth', BIG_ENDIAN_FLOAT64))
    assert np.dtype('f8').byteorder == '=' and np.frombuffer(np.float64(1.5).tobytes()) == 1.5
    assert load_checkpoint_file(genuine)['message_hub']['runtime_info']['eta'] == 1.5
    assert {name: getattr(HistoryBuffer, name) for name in statistics} == statistics
    assert HistoryBuffer.min.__defaults__ == defaults
    for loaded in (load_checkpoint_file(genuine)['state_dict'],
                   load_official_file(plain)['state_dict']):
        for key, value in model.state_dict().items():
            assert loaded[key].dtype == value.dtype and torch.equal(loaded[key], value), key
    fresh = tiny_model()
    with torch.no_grad():
        for param in fresh.parameters():
            param.normal_()
    fresh.load_state_dict(load_checkpoint_file(genuine)['state_dict'])
    actual = predict(fresh, image)
    assert actual.item == expected.item and np.allclose(actual.score, expected.score)


def test_broken_files_give_one_line(tmp_path):
    good = tmp_path / 'good.pth'
    torch.save(mmengine_like_checkpoint(), str(good))
    files = unreadable_copies(tmp_path / 'broken', good)
    for case in files:
        with pytest.raises(CheckpointReadError) as err:
            load_checkpoint_file(str(files[case]))
        assert EXPECTED[case] in str(err.value) and str(files[case]) in str(err.value)
        assert '\n' not in str(err.value)
    damaged = bytearray(good.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF                      # one flipped byte inside a tensor
    (tmp_path / 'damaged.pth').write_bytes(damaged)
    with pytest.raises(CheckpointReadError, match='damaged: record .* fails its check'):
        load_checkpoint_file(str(tmp_path / 'damaged.pth'))
    with pytest.raises(CheckpointNotFoundError, match='checkpoint not found: .*absent.pth'):
        load_checkpoint_file(str(tmp_path / 'absent.pth'))
    torch.save(torch.ones(3), str(tmp_path / 'tensor.pth'))
    with pytest.raises(CheckpointReadError, match='holds a Tensor, not a checkpoint'):
        load_checkpoint_file(str(tmp_path / 'tensor.pth'))
    lightning = b'\x80\x02cpytorch_lightning.utilities.parsing\nAttributeDict\n)\x81.'
    with pytest.raises(CheckpointReadError, match='official CLIP4STR .*convert_clip4str_ckpt'):
        load_checkpoint_file(write_archive(tmp_path / 'official.ckpt', lightning))


def test_importing_the_plugin_changes_nothing_global():
    """A fresh interpreter: ``import clip4str_plugin`` leaves mmcv._ext and MMEngine's loader as
    they were; without the stand-in it says what to do; the config switch is a module import."""
    out = run_python('''
        import sys
        from mmengine.runner import checkpoint
        from mmengine.runner.checkpoint import CheckpointLoader
        try:
            import clip4str_plugin
        except ImportError as err:
            print('error:', err)
        assert 'mmcv._ext' not in sys.modules
        import clip4str_mmcv_lite
        before = (sys.modules.get('mmcv._ext'), dict(CheckpointLoader._schemes),
                  checkpoint.load_state_dict)
        import clip4str_plugin
        assert (sys.modules.get('mmcv._ext'), dict(CheckpointLoader._schemes),
                checkpoint.load_state_dict) == before
        assert 'clip4str_plugin.weights.safe_loading' not in sys.modules
        from clip4str_plugin.weights.safe_loading import load_from_url, load_from_weights_only
        assert CheckpointLoader._schemes[''] is load_from_weights_only
        assert CheckpointLoader._schemes['https://'] is load_from_url
        assert checkpoint.load_state_dict is before[2]     # MMEngine's functions stay its own
        print('ok')
    ''')
    assert out.returncode == 0, out.stderr
    assert ('error: mmcv-lite has no compiled ops: `import clip4str_mmcv_lite` first, or list '
            'it before clip4str_plugin in custom_imports') in out.stdout
    assert out.stdout.rstrip().endswith('ok')


def _mapped(path) -> bool:
    with open('/proc/self/maps') as f:
        return str(path) in f.read()


def test_mmengine_loads_weights_mapped_copy_on_write_and_released_with_them(tmp_path,
                                                                           monkeypatch):
    import gc
    import hashlib
    monkeypatch.setattr(CheckpointLoader, '_schemes', dict(CheckpointLoader._schemes))
    use_weights_only_loader()
    path = tmp_path / 'weights.pth'
    state = {'a': torch.randn(64, 32), 'h': torch.randn(7).half(), 'view': torch.randn(8, 8)[2:5]}
    checkpoint = mmengine_like_checkpoint(state)
    checkpoint['optimizer']['state'] = {0: dict(step=torch.tensor(3.0),
                                                exp_avg=torch.randn(64, 32))}
    torch.save(checkpoint, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    loaded = _load_checkpoint(str(path), map_location='cpu')     # MMEngine's entry point
    for key, value in state.items():
        assert torch.equal(loaded['state_dict'][key], value), key
    assert torch.equal(loaded['optimizer']['state'][0]['exp_avg'],
                       checkpoint['optimizer']['state'][0]['exp_avg'])
    assert loaded['message_hub']['log_scalars']['train/loss'].current() == 0.5
    assert _mapped(path)                        # the file's pages, no heap copy
    loaded['state_dict']['a'].add_(1)           # a private copy on write, never the file
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    optimizer = loaded['optimizer']
    del loaded
    gc.collect()
    assert not _mapped(path)                    # gone with the weights; the optimiser state
    assert optimizer['state'][0]['exp_avg'].shape == (64, 32)   # (kept by a resume) is a copy


def test_direct_loads_are_in_memory_so_the_file_can_be_rewritten(tmp_path):
    """A caller may edit a checkpoint and save it under the same name: a map would lose its
    pages when the file is truncated (SIGBUS), so direct loads are read into memory."""
    path = tmp_path / 'epoch_2.pth'
    torch.save(mmengine_like_checkpoint({'a': torch.randn(256, 64)}), path)
    state = load_checkpoint_file(str(path))
    assert not _mapped(path)
    del state['message_hub']
    torch.save(state, path)
    again = load_checkpoint_file(str(path))
    assert torch.equal(again['state_dict']['a'], state['state_dict']['a'])
    assert 'message_hub' not in again


def test_compressed_and_legacy_files_are_read_into_memory(tmp_path):
    import zipfile
    state = {'a': torch.randn(64, 32), 'b': torch.arange(10)}
    plain = tmp_path / 'plain.pth'
    torch.save(dict(state_dict=state), plain)
    packed = tmp_path / 'packed.pth'    # re-compressed: a map would show deflated bytes
    with zipfile.ZipFile(plain) as src, \
            zipfile.ZipFile(packed, 'w', zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    legacy = tmp_path / 'legacy.pth'
    torch.save(dict(state_dict=state), legacy, _use_new_zipfile_serialization=False)
    for path in (packed, legacy):
        loaded = load_checkpoint_file(str(path), mmap=True)
        assert all(torch.equal(loaded['state_dict'][k], v) for k, v in state.items()), path
        assert not _mapped(path)


@pytest.mark.parametrize('pickle_bytes, error', [
    (b'\x80\x02' + b'e' * 4 + b'.', 'IndexError: pop from empty list'),      # APPENDS, no list
    (b'\x80\x02}q\x00(X\x01\x00\x00\x00ab.', 'IndexError: list index out of range'),
    (b'\x80\x02J\x01\x00', 'error: unpack requires a buffer of 4 bytes')])    # BININT cut short
def test_a_malformed_pickle_is_a_damaged_checkpoint(tmp_path, pickle_bytes, error):
    """Bytes that pass the file checks but break the unpickler: one CheckpointReadError line,
    as a legacy file and as the data.pkl of an archive."""
    legacy = tmp_path / 'legacy.pth'
    legacy.write_bytes(pickle_bytes)
    for path in (str(legacy), write_archive(tmp_path / 'archive.pth', pickle_bytes)):
        with pytest.raises(CheckpointReadError) as err:
            load_checkpoint_file(path)
        assert str(err.value) == f'cannot read checkpoint {path}: damaged ({error})'
