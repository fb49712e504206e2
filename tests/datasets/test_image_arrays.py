"""CheckImageArray: what MMOCR's TextRecInferencer is given as arrays reaches the model as
H x W x 3 uint8 BGR, or is refused in one line."""
import numpy as np
import pytest

from clip4str_plugin.errors import DataError
from clip4str_plugin.datasets.image_arrays import as_bgr_uint8
from conftest import TINY_CONFIG, load_config


@pytest.mark.parametrize('array, message', [
    (np.zeros((32, 100, 3), np.float32), 'image array of dtype float32: give uint8 pixels'),
    (np.zeros((32, 100, 3), np.uint16), 'image array of dtype uint16: give uint8 pixels'),
    (np.zeros((0, 100, 3), np.uint8), r'image array of shape \(0, 100, 3\) is empty'),
    (np.zeros((1, 32, 100, 3), np.uint8),
     r'image array of shape \(1, 32, 100, 3\): give one image, H x W x 3 \(BGR\)'),
    (np.zeros((32, 100, 2), np.uint8), r'has 2 channels: give 3 \(BGR\), 1 \(grey\) or 4'),
    ([[0, 1]], 'an image must be a numpy array'),
])
def test_refused_arrays(array, message):
    with pytest.raises(DataError, match=message):
        as_bgr_uint8(array)


def test_grey_and_bgra_become_bgr():
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    for given in (grey, grey[..., None]):
        out = as_bgr_uint8(given)
        assert out.shape == (3, 4, 3) and all((out[..., c] == grey).all() for c in range(3))
    bgra = np.dstack([grey, grey + 1, grey + 2, np.full_like(grey, 7)])
    assert (as_bgr_uint8(bgra) == bgra[..., :3]).all()
    bgr = np.zeros((3, 4, 3), np.uint8)
    assert as_bgr_uint8(bgr) is bgr


def test_the_inferencer_reads_grey_and_refuses_floats():
    """TextRecInferencer on the tiny config (random weights): a grey word reads as the same
    word in BGR; a float image is one DataError, not a traceback from the resize."""
    from mmocr.apis import TextRecInferencer
    cfg = load_config(TINY_CONFIG)
    assert dict(type='CheckImageArray') in cfg.test_dataloader.dataset.pipeline
    inferencer = TextRecInferencer(model=str(TINY_CONFIG), weights=None, device='cpu')
    inferencer.show_progress = False
    grey = np.random.default_rng(0).integers(0, 256, (32, 100), dtype=np.uint8)
    texts = [p['text'] for p in inferencer([grey, np.dstack([grey] * 3)])['predictions']]
    assert texts[0] == texts[1]
    with pytest.raises(DataError, match='image array of dtype float64'):
        inferencer(grey / 255.0)
