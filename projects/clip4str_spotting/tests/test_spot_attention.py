"""tools/spot.py --vis --attention: an attention grid per word (the whole-image detector of
test_spotter gives one word per image), refused without --vis and for a recognizer whose
decoder does not read image patches."""
import json

import cv2
import numpy as np

from test_spotter import DBNET, TINY_CONFIG, one_thread, scene, whole_image_detector  # noqa: F401
from test_spotting_tools import run_tool


def test_a_grid_per_word(scene, whole_image_detector, tmp_path, monkeypatch):  # noqa: F811
    images = tmp_path / 'images'
    images.mkdir()
    cv2.imwrite(str(images / 'a.png'), scene[1])
    cv2.imwrite(str(images / 'b.jpg'), scene[1][:120, :200])
    out = tmp_path / 'spots'
    args = [images, '--det', DBNET, '--det-weights', whole_image_detector, '--rec', TINY_CONFIG,
            '--device', 'cpu', '--out-dir', out]
    assert run_tool('spot.py', *args, '--attention', monkeypatch=monkeypatch) == \
        '--attention draws into the visualisations: give --vis too'
    assert run_tool('spot.py', *args, '--vis', '--attention', monkeypatch=monkeypatch) == 0
    for name in ('a.png', 'b.jpg'):
        result = json.loads((out / f'{name}.json').read_text())
        assert len(result['texts']) == 1
        grids = sorted(p.name for p in (out / 'vis' / f'{name}.attention').iterdir())
        assert grids == ['word0.png']
        grid = cv2.imread(str(out / 'vis' / f'{name}.attention' / 'word0.png'))
        assert grid.shape[0] > 2 * 64 and grid.shape[1] > grid.shape[0]    # two rows of panels
    # the attention folders are outputs too: not replaced without --overwrite
    assert 'already exist' in run_tool('spot.py', *args, '--vis', '--attention',
                                       monkeypatch=monkeypatch)


def test_a_recognizer_with_an_encoder_is_refused(tmp_path, monkeypatch):
    cfg = tmp_path / 'fmu.py'
    cfg.write_text(f"_base_ = ['{TINY_CONFIG}']\n"
                   "model = dict(encoder=dict(type='FeatureMergeUnit', embed_dim=128))\n")
    image = tmp_path / 'w.png'
    cv2.imwrite(str(image), np.zeros((64, 64, 3), np.uint8))
    assert run_tool('spot.py', image, '--det', DBNET, '--rec', cfg, '--device', 'cpu',
                    '--out-dir', tmp_path / 'out', '--vis', '--attention',
                    monkeypatch=monkeypatch) == \
        '--attention: the decoder reads FeatureMergeUnit tokens, not image patches: attention ' \
        'maps need a recognizer without an encoder'
