"""Detector + recognizer: MMOCRInferencer with our configs, tools/spot.py on awkward inputs."""
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import clip4str_mmcv_lite  # noqa: F401  (mmcv-lite: the mmcv._ext stand-in, before the plugin)
from projects.clip4str_spotting.clip4str_spotting import read_image, render_scenes

PROJECT = Path(__file__).resolve().parents[1]
ROOT = PROJECT.parents[1]
DBNET = PROJECT / 'configs' / 'dbnet_resnet18_fpnc_synth-scenes.py'
TINY_CONFIG = ROOT / 'configs' / 'clip4str' / 'clip4str_tiny.py'


@pytest.fixture(scope='module')
def scene(tmp_path_factory):
    image, instances = next(render_scenes('test', 1, seed=0, size=(320, 320)))
    path = tmp_path_factory.mktemp('scene') / 'scene.jpg'
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return path, instances


def test_mmocr_inferencer_with_dbnet_and_clip4str(scene):
    from mmocr.apis import MMOCRInferencer
    ocr = MMOCRInferencer(det=str(DBNET), rec=str(TINY_CONFIG), device='cpu')
    pred = ocr(str(scene[0]), rec_batch_size=8)['predictions'][0]
    assert len(pred['det_polygons']) == len(pred['rec_texts']) == len(pred['rec_scores'])
    assert all(isinstance(t, str) for t in pred['rec_texts'])


def test_read_image_names_the_bad_file(tmp_path):
    bad = tmp_path / 'broken.jpg'
    bad.write_bytes(b'\xff\xd8 not really a jpeg')
    with pytest.raises(ValueError, match='broken.jpg'):
        read_image(str(bad))
    empty = tmp_path / 'empty.png'
    empty.write_bytes(b'')
    with pytest.raises(ValueError, match='empty.png'):
        read_image(str(empty))


def test_spot_tool_processes_a_folder_with_awkward_images(scene, tmp_path):
    folder = tmp_path / 'images'
    folder.mkdir()
    colour = cv2.imread(str(scene[0]))
    cv2.imwrite(str(folder / 'a_colour.jpg'), colour)
    cv2.imwrite(str(folder / 'b_gray.png'), cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(folder / 'c_rgba.png'), cv2.cvtColor(colour, cv2.COLOR_BGR2BGRA))
    cv2.imwrite(str(folder / 'd_tiny.png'), colour[:3, :5])
    cv2.imwrite(str(folder / 'e_large.jpg'), cv2.resize(colour, (2400, 1600)))
    cv2.imwrite(str(folder / 'f_16bit.png'), (colour.astype(np.uint16) * 257))
    (folder / 'g_broken.jpg').write_bytes(b'\xff\xd8 truncated')
    out = tmp_path / 'spots'
    proc = subprocess.run(
        [sys.executable, str(PROJECT / 'tools' / 'spot.py'), str(folder), '--det', str(DBNET),
         '--rec', str(TINY_CONFIG), '--out-dir', str(out), '--device', 'cpu', '--vis',
         '--rec-batch-size', '4'], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr[-2000:]          # one file failed ...
    assert 'g_broken.jpg' in proc.stderr and 'Traceback' not in proc.stderr
    assert 'spotted 6 of 7 images' in proc.stdout             # ... the rest were processed
    for stem in ['a_colour', 'b_gray', 'c_rgba', 'd_tiny', 'e_large', 'f_16bit']:
        result = json.loads((out / f'{stem}.json').read_text())
        assert len(result['polygons']) == len(result['texts']) == len(result['rec_scores'])
        assert (out / 'vis' / f'{stem}.jpg').is_file()
