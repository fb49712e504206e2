"""DPTR against values recorded from OpenOCR's code (Topdu/OpenOCR, ``DptrParseq`` and its CLIP
transform) on small inputs. How each value was recorded is said next to it; the recording
scripts ran OpenOCR's functions (or the torchvision transforms it calls) outside this repo."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from clip4str_plugin.models.dptr.orp_bank import clip_preprocess, cover_geometry

FIXTURES = Path(__file__).resolve().parents[2] / 'fixtures' / 'openocr_dptr'


def synthetic_image(w: int, h: int, mode: str) -> Image.Image:
    """The images the recording used: integer patterns, alpha for RGBA."""
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([(x * 7 + y * 3) % 256, (x * x + 5 * y) % 256, (x * y) % 256],
                   -1).astype(np.uint8)
    if mode == 'RGBA':
        alpha = ((x + y) * 2 % 256).astype(np.uint8)[..., None]
        return Image.fromarray(np.concatenate([rgb, alpha], -1), 'RGBA')
    return Image.fromarray(rgb, 'RGB').convert(mode)


@pytest.mark.parametrize('size, geometry', [
    ((333, 200), (372, 224, 74, 0)), ((201, 333), (224, 371, 0, 74)),
    ((640, 480), (298, 224, 37, 0)), ((224, 224), (224, 224, 0, 0))])
def test_cover_geometry_is_torchvision_resize_and_center_crop(size, geometry):
    """Recorded from torchvision 0.29 ``F.resize(img, 224, BICUBIC).size`` and CenterCrop's
    offsets ``int(round((side - 224) / 2.0))``: the long side is truncated (372.96 -> 372) and
    a half offset rounds to even (73.5 -> 74)."""
    assert cover_geometry(size, 224, 224) == geometry


@pytest.mark.parametrize('w, h, mode', [(333, 200, 'RGB'), (201, 333, 'RGB'), (640, 480, 'RGB'),
                                        (201, 333, 'L'), (333, 200, 'RGBA')])
def test_clip_preprocess_matches_the_reference_transform(w, h, mode):
    """clip_preprocess.npz holds, per image, OpenOCR's CLIP transform (``Compose([Resize(224,
    BICUBIC), CenterCrop(224), convert('RGB'), ToTensor(), Normalize(OpenAI mean, std)])``, as
    its ``_transform(224)`` builds it) of :func:`synthetic_image`: the pixels at rows 3::16,
    columns 5::16 and the per-channel sums. RGB conversion comes after the crop, as there (an
    RGBA image is resized with its alpha)."""
    recorded = np.load(FIXTURES / 'clip_preprocess.npz')
    out = clip_preprocess(synthetic_image(w, h, mode), 224, 224)
    key = f'{mode}_{w}x{h}'
    assert out.shape == (3, 224, 224)
    np.testing.assert_allclose(out[:, 3::16, 5::16].numpy(), recorded[key], rtol=0, atol=1e-6)
    np.testing.assert_allclose(out.double().sum((1, 2)).numpy(), recorded[key + '_sum'],
                               rtol=0, atol=1e-3)


def test_fmu_initialisation_is_the_references():
    """Recorded from OpenOCR's ``FMU(512, 8, 2048, 0.1)`` after ``DptrParseq._init_weights``
    (torch.manual_seed(0)): (mean, std) per weight, ours by name; the input projection is
    Xavier-uniform there (not a Linear: bound sqrt(6 / (512 + 1536)), recorded max 0.05413),
    every bias zero, the LayerNorm ones."""
    from clip4str_plugin.models.dptr.fmu import FeatureMergeUnit
    recorded = {
        'attn.in_proj_weight': (0.00002, 0.03124),
        'attn.out_proj.weight': (0.00006, 0.02001),
        'mlp.0.weight': (0.00003, 0.02001),               # reference linear1
        'mlp.3.weight': (0.00001, 0.01999),               # reference linear2
        'norm.weight': (1.0, 0.0)}
    torch.manual_seed(0)
    params = {k: v.detach() for k, v in FeatureMergeUnit().named_parameters()}
    for name, (mean, std) in recorded.items():
        assert abs(params[name].mean().item() - mean) < 1e-3, name
        assert abs(params[name].std().item() - std) < 1e-3, name
    assert params['attn.in_proj_weight'].abs().max() <= (6 / 2048) ** .5
    for name in ('attn.in_proj_bias', 'attn.out_proj.bias', 'mlp.0.bias', 'mlp.3.bias',
                 'norm.bias'):
        assert not params[name].any(), name
