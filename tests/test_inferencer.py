"""MMOCRInferencer runs our tiny config on an image file."""
import math

import cv2
import numpy as np

from conftest import TINY_CONFIG


def test_mmocr_inferencer_on_an_image_file(tmp_path):
    from mmocr.apis import MMOCRInferencer
    image = tmp_path / 'word.png'
    cv2.imwrite(str(image), (np.random.default_rng(0).random((40, 150, 3)) * 255).astype('uint8'))
    inferencer = MMOCRInferencer(rec=str(TINY_CONFIG), device='cpu')
    result = inferencer(str(image), out_dir=str(tmp_path / 'out'), save_pred=True)
    pred = result['predictions'][0]
    assert isinstance(pred['rec_texts'][0], str)
    assert math.isfinite(pred['rec_scores'][0])
    assert (tmp_path / 'out' / 'preds' / 'word.json').is_file()
