"""Weights-only loading of the plugin's own MMEngine checkpoints; hostile files refused; the
switch that makes it MMEngine's loader."""
import numpy as np
import pytest
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

from clip4str_plugin.weights.mmengine_loader import load_checkpoint_file, use_weights_only_loader
from clip4str_plugin.weights.safe_pickle import UnsafePickleError
from conftest import Exploit, run_python


def mmengine_like_checkpoint():
    buffer = HistoryBuffer()
    buffer.update(0.5)
    return dict(meta=dict(iter=4, cfg='model = dict()'), state_dict={'w': torch.ones(3)},
                message_hub=dict(log_scalars={'train/loss': buffer},
                                 runtime_info=dict(eta=np.float64(1.5))),
                optimizer=dict(state={}, param_groups=[dict(lr=0.1, params=[0])]))


def test_loads_history_buffers_and_numpy_without_the_global_switch(tmp_path, monkeypatch):
    monkeypatch.delenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', raising=False)
    monkeypatch.setattr(CheckpointLoader, '_schemes', dict(CheckpointLoader._schemes))
    path = str(tmp_path / 'iter_4.pth')
    torch.save(mmengine_like_checkpoint(), path)
    with pytest.raises(Exception):          # what plain torch.load does on torch >= 2.6
        torch.load(path)
    use_weights_only_loader()
    use_weights_only_loader()                               # idempotent
    assert CheckpointLoader._schemes[''] is load_checkpoint_file
    assert list(CheckpointLoader._schemes).count('') == 1
    loaded = _load_checkpoint(path, map_location='cpu')   # MMEngine's own entry point
    assert loaded['meta']['iter'] == 4 and torch.equal(loaded['state_dict']['w'], torch.ones(3))
    buffer = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer) and buffer.current() == 0.5
    assert loaded['message_hub']['runtime_info']['eta'] == 1.5


def test_refuses_a_planted_exploit(tmp_path):
    marker = tmp_path / 'marker'
    path = str(tmp_path / 'evil.pth')
    ckpt = mmengine_like_checkpoint()
    ckpt['meta']['payload'] = Exploit(marker)
    torch.save(ckpt, path)
    with pytest.raises(UnsafePickleError):
        load_checkpoint_file(path)
    assert not marker.exists()


def test_importing_the_plugin_changes_nothing_global():
    """A fresh interpreter: ``import clip4str_plugin`` leaves mmcv._ext and MMEngine's loader as
    they were; without the stand-in it says what to do; the config switch is a module import."""
    out = run_python('''
        import sys
        from mmengine.runner.checkpoint import CheckpointLoader
        try:
            import clip4str_plugin
        except ImportError as err:
            print('error:', err)
        assert 'mmcv._ext' not in sys.modules
        import clip4str_mmcv_lite
        before = sys.modules.get('mmcv._ext'), CheckpointLoader._schemes['']
        import clip4str_plugin
        assert (sys.modules.get('mmcv._ext'), CheckpointLoader._schemes['']) == before
        assert 'clip4str_plugin.weights.safe_loading' not in sys.modules
        import clip4str_plugin.weights.safe_loading
        from clip4str_plugin.weights.mmengine_loader import load_checkpoint_file
        assert CheckpointLoader._schemes[''] is load_checkpoint_file
        print('ok')
    ''')
    assert out.returncode == 0, out.stderr
    assert ('error: mmcv-lite has no compiled ops: `import clip4str_mmcv_lite` first, or list '
            'it before clip4str_plugin in custom_imports') in out.stdout
    assert out.stdout.rstrip().endswith('ok')
