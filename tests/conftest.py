"""Shared test helpers: the repo paths, the tiny config and a tiny random CLIP."""
import os
from pathlib import Path

import pytest
import torch

import clip4str_plugin  # noqa: F401  (registers the plugin, installs the mmcv stand-in)

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / 'configs'
TINY_CONFIG = CONFIGS / 'clip4str' / 'clip4str_tiny.py'
FIXTURE = ROOT.parent / 'shared' / 'fixtures' / 'official_tiny'

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def mmocr_scope():
    from mmengine.registry import DefaultScope, init_default_scope
    init_default_scope('mmocr')
    yield
    DefaultScope._instance_dict.clear()


def load_config(path=TINY_CONFIG):
    from mmengine.config import Config
    return Config.fromfile(str(path))


def build_model(cfg_model):
    from mmengine.registry import init_default_scope
    from mmocr.registry import MODELS
    init_default_scope('mmocr')  # module-scoped fixtures run before the autouse scope fixture
    return MODELS.build(cfg_model)


def tiny_model(**decoder_overrides):
    """The tiny CLIP4STR, seeded, in eval mode."""
    cfg = load_config()
    cfg.model.decoder.update(decoder_overrides)
    torch.manual_seed(0)
    return build_model(cfg.model).eval()


def make_samples(texts, shape=(32, 128)):
    from mmengine.structures import LabelData
    from mmocr.structures import TextRecogDataSample
    samples = []
    for text in texts:
        sample = TextRecogDataSample(
            metainfo=dict(img_shape=shape, ori_shape=shape, valid_ratio=1.0))
        sample.gt_text = LabelData(item=text)
        samples.append(sample)
    return samples
