"""ORP bank extraction: images over the pixel limit and unreadable ones are skipped, counted
and named apart; with nothing readable, one line says what was skipped; only a CLIP image tower
builds a bank."""
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

from clip4str_plugin.datasets.orp_bank import build_tower, describe_skips, extract_bank
from clip4str_plugin.errors import DataError
from hostile_images import claimed_png


class MeanTower(torch.nn.Module):
    """A stand-in image tower: ``(B, 3, 8, 8)`` -> ``(B, 2, 3)``, the channel means twice."""

    visual = SimpleNamespace(image_size=(8, 8))

    def forward(self, images):
        return images.mean((2, 3)).unsqueeze(1).repeat(1, 2, 1)


def test_oversized_and_unreadable_images_are_counted_apart(tmp_path):
    for name, value in (('a.png', 40), ('b.png', 200)):
        cv2.imwrite(str(tmp_path / name), np.full((12, 20, 3), value, np.uint8))
    (tmp_path / 'broken.png').write_bytes(b'not an image')
    (tmp_path / 'huge.png').write_bytes(claimed_png(15000, 15000))
    paths = [str(tmp_path / n) for n in ('a.png', 'broken.png', 'huge.png', 'b.png')]
    bank, skipped = extract_bank(MeanTower(), paths, batch_size=1)
    assert bank.shape == (2, 2, 3) and bank.dtype == torch.float16
    assert skipped == {'unreadable': [paths[1]], 'over the pixel limit': [paths[2]]}
    assert describe_skips(skipped) == (f'skipped 1 unreadable (e.g. {paths[1]}), 1 over the '
                                       f'pixel limit (e.g. {paths[2]})')
    assert describe_skips({'unreadable': [], 'over the pixel limit': []}) == 'skipped none'
    with pytest.raises(DataError) as err:
        extract_bank(MeanTower(), paths[1:3])
    assert str(err.value) == (f'no image could be read (2 files; skipped 1 unreadable (e.g. '
                              f'{paths[1]}), 1 over the pixel limit (e.g. {paths[2]}))')


def test_only_a_clip_image_tower_builds_a_bank():
    with pytest.raises(DataError, match=r"needs a CLIP image tower \(type='CLIPVisionBackbone'\), "
                                        'not ViTBackbone'):
        build_tower(dict(type='ViTBackbone', img_size=(32, 128), patch_size=(4, 8), embed_dim=32,
                         depth=1, num_heads=2))
