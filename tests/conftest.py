"""Shared test helpers: the repo paths, the tiny config, the official fixture's geometry, a
fresh interpreter, a pickle that would run code."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import clip4str_mmcv_lite  # noqa: F401  (mmcv-lite: the mmcv._ext stand-in, before the plugin)
import clip4str_plugin  # noqa: F401  (registers the plugin; MMEngine's loader is left alone)
from clip4str_plugin.text.charsets import DICTS_DIR

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / 'configs'
TINY_CONFIG = CONFIGS / 'clip4str' / 'clip4str-tiny.py'
DICT_94 = str(DICTS_DIR / 'charset_94.txt')

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def mmocr_scope():
    from mmengine.registry import DefaultScope, init_default_scope
    init_default_scope('mmocr')
    yield
    DefaultScope._instance_dict.clear()


@pytest.fixture
def uncapped(monkeypatch):
    """No oneDNN ISA cap (``ONEDNN_MAX_CPU_ISA``) from the environment the tests run in: for
    tests that give the CPU's flags themselves."""
    monkeypatch.delenv('ONEDNN_MAX_CPU_ISA', raising=False)
    monkeypatch.delenv('DNNL_MAX_CPU_ISA', raising=False)


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


def fixture_model():
    """The plugin model with the official fixture's geometry (vision/text width 128, 2 layers,
    joint and decoder width 64), in eval mode."""
    cfg = load_config(CONFIGS / 'clip4str' / '_base_clip4str.py')
    cfg.model.backbone.update(embed_dim=64, width=128, layers=2)
    cfg.model.decoder.text_encoder.update(embed_dim=64, width=128, layers=2)
    cfg.model.decoder.decoder.update(embed_dim=64)
    return build_model(cfg.model).eval()


def run_tool(name: str, *args, monkeypatch) -> str:
    """Run tools/<name> in-process as its command line; its exit message ('' on success)."""
    import runpy
    monkeypatch.setattr(sys, 'argv', [name, *map(str, args)])
    try:
        runpy.run_path(str(ROOT / 'tools' / name), run_name='__main__')
    except SystemExit as done:
        return '' if done.code in (None, 0) else str(done.code)
    return ''


def run_python(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` (dedented) in a fresh interpreter; stdout and stderr captured as text."""
    return subprocess.run([sys.executable, '-c', textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=300)


class Exploit:
    """Pickles as ``os.system('touch <marker>')``: what a hostile checkpoint would run."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )
