"""tools/train.py --amp: fp16 autocast with dynamic loss scaling on a GPU (CUDA faked) for CLIP4STR
and for DPTR (OpenOCR's trainer when DPTR was released: torch.cuda.amp.autocast(), GradScaler)."""
import importlib.util
import sys

import pytest
import torch

from conftest import CONFIGS, ROOT


def setup_cfg(config, monkeypatch):
    spec = importlib.util.spec_from_file_location('train_tool', ROOT / 'tools' / 'train.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(sys, 'argv', ['train.py', str(config), '--amp'])
    return tool.setup_cfg(tool.parse_args())


@pytest.mark.parametrize('config', [CONFIGS / 'dptr' / 'dptr_pretrain_clip-b16_art.py',
                                    CONFIGS / 'clip4str' / 'clip4str-tiny_3k_synth.py'])
def test_amp_is_fp16_autocast_with_loss_scaling(config, monkeypatch):
    wrapper = setup_cfg(config, monkeypatch).optim_wrapper
    assert (wrapper.type, wrapper.loss_scale, wrapper.get('dtype')) == ('AmpOptimWrapper',
                                                                        'dynamic', None)
