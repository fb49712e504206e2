"""Every shipped config builds through the registry; sizes match the reference."""
import pytest
import torch

from conftest import CONFIGS, build_model, load_config

CLIP4STR = sorted((CONFIGS / 'clip4str').glob('clip4str_*.py'))

# total / trainable parameters of the reference (scripts' parameter summaries)
REFERENCE_SIZES = {'clip4str_b16.py': (158e6, 114e6), 'clip4str_b32.py': (159e6, 115e6),
                   'clip4str_l14.py': (446e6, 366e6),
                   'clip4str_h14.py': (1.0e9, 893e6)}


@pytest.mark.parametrize('path', CLIP4STR, ids=lambda p: p.name)
def test_config_builds(path):
    cfg = load_config(path)
    assert cfg.custom_imports == dict(imports=['clip4str_plugin'], allow_failed_imports=False)
    assert cfg.default_scope == 'mmocr'
    if path.name in REFERENCE_SIZES:   # count without allocating
        with torch.device('meta'):
            model = build_model(cfg.model)
        total = sum(p.numel() for p in model.parameters())
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        want_total, want_trainable = REFERENCE_SIZES[path.name]
        assert abs(total - want_total) / want_total < 0.025, total
        assert abs(trainable - want_trainable) / want_trainable < 0.01, trainable
    else:
        model = build_model(cfg.model).eval()
        with torch.no_grad():
            feat = model.backbone(torch.randn(2, 3, 32, 128))
            cross, visual = model.decoder.decode(feat)
        assert feat.shape[::2] == (2, 128) and cross.shape[-1] == 95


def test_h14_runs_twenty_vision_heads():
    with torch.device('meta'):
        model = build_model(load_config(CONFIGS / 'clip4str' / 'clip4str_h14.py').model)
    assert model.backbone.visual.transformer.resblocks[0].attn.num_heads == 20
