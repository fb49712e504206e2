"""Weights-only loading of the plugin's own MMEngine checkpoints; hostile files refused."""
import os

import numpy as np
import pytest
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import _load_checkpoint

from clip4str_plugin.engine.checkpoint import load_checkpoint_file
from clip4str_plugin.utils.safe_pickle import UnsafePickleError


def mmengine_like_checkpoint():
    buffer = HistoryBuffer()
    buffer.update(0.5)
    return dict(meta=dict(iter=4, cfg='model = dict()'), state_dict={'w': torch.ones(3)},
                message_hub=dict(log_scalars={'train/loss': buffer},
                                 runtime_info=dict(eta=np.float64(1.5))),
                optimizer=dict(state={}, param_groups=[dict(lr=0.1, params=[0])]))


def test_loads_history_buffers_and_numpy_without_the_global_switch(tmp_path, monkeypatch):
    monkeypatch.delenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', raising=False)
    path = str(tmp_path / 'iter_4.pth')
    torch.save(mmengine_like_checkpoint(), path)
    with pytest.raises(Exception):          # what plain torch.load does on torch >= 2.6
        torch.load(path)
    loaded = _load_checkpoint(path, map_location='cpu')   # MMEngine's own entry point
    assert loaded['meta']['iter'] == 4 and torch.equal(loaded['state_dict']['w'], torch.ones(3))
    buffer = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer) and buffer.current() == 0.5
    assert loaded['message_hub']['runtime_info']['eta'] == 1.5


class Exploit:

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


def test_refuses_a_planted_exploit(tmp_path):
    marker = tmp_path / 'marker'
    path = str(tmp_path / 'evil.pth')
    ckpt = mmengine_like_checkpoint()
    ckpt['meta']['payload'] = Exploit(marker)
    torch.save(ckpt, path)
    with pytest.raises(UnsafePickleError):
        load_checkpoint_file(path)
    assert not marker.exists()
