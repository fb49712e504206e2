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


def test_inferencer_loads_a_runner_checkpoint_weights_only(tmp_path):
    """A checkpoint as MMEngine's Runner writes it (numpy and HistoryBuffer objects inside)
    loads through rec_weights on this torch without the global weights-only switch."""
    import torch
    from mmengine.logging import HistoryBuffer
    from mmocr.apis import MMOCRInferencer

    from conftest import make_samples, tiny_model
    model = tiny_model()
    ckpt = tmp_path / 'iter_10.pth'
    loss = HistoryBuffer()
    loss.update(1.0)
    loss.update(0.5)
    torch.save(dict(meta=dict(iter=10, seed=np.int64(0)), state_dict=model.state_dict(),
                    message_hub=dict(log_scalars={'train/loss': loss})), str(ckpt))
    image = (np.random.default_rng(1).random((32, 128, 3)) * 255).astype('uint8')
    expected = model.test_step(dict(inputs=[torch.from_numpy(image).permute(2, 0, 1)],
                                    data_samples=make_samples([''])))
    inferencer = MMOCRInferencer(rec=str(TINY_CONFIG), rec_weights=str(ckpt), device='cpu')
    pred = inferencer(image)['predictions'][0]
    assert pred['rec_texts'][0] == expected[0].pred_text.item
    assert math.isclose(pred['rec_scores'][0], float(np.mean(expected[0].pred_text.score)),
                        rel_tol=1e-4)


def test_inferencer_refuses_broken_checkpoints_with_one_line(tmp_path):
    """Truncated, empty, a text file, a DBNet's checkpoint: one clear error naming the file
    (before: a zip error from torch, or a model that silently reads garbage)."""
    import pytest
    import torch
    from mmocr.apis import MMOCRInferencer

    from broken_checkpoints import EXPECTED, broken_checkpoints
    from clip4str_plugin.weights.errors import CheckpointError
    from conftest import tiny_model
    good = tmp_path / 'iter_10.pth'
    torch.save(dict(meta={}, state_dict=tiny_model().state_dict()), str(good))
    for case, path in broken_checkpoints(tmp_path / 'broken', good).items():
        with pytest.raises(CheckpointError) as err:
            MMOCRInferencer(rec=str(TINY_CONFIG), rec_weights=str(path), device='cpu')
        message = str(err.value)
        assert EXPECTED[case] in message and str(path) in message and '\n' not in message, case
