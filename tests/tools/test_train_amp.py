"""tools/train.py --amp: the autocast dtype each recipe asks for on a GPU (CUDA faked)."""
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


@pytest.mark.parametrize('config, dtype', [
    (CONFIGS / 'dptr' / 'dptr_pretrain_vitb16.py', 'bfloat16'),       # OpenOCR: bf16 autocast
    (CONFIGS / 'clip4str' / 'clip4str_tiny_synth.py', 'float16')])    # CLIP4STR: precision=16
def test_amp_dtype_of_each_recipe(config, dtype, monkeypatch):
    wrapper = setup_cfg(config, monkeypatch).optim_wrapper
    assert (wrapper.type, wrapper.loss_scale, wrapper.dtype) == ('AmpOptimWrapper', 'dynamic',
                                                                 dtype)
