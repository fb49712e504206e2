"""Detector + recognizer end to end: MMOCRInferencer with our configs, TextSpotter and
tools/spot.py. No detector can be trained in a test, so DBNet's last layer is replaced by one
whose text map is known (the rendered words' quadrilaterals, or the whole image): the words
must come back as polygons, and each polygon's crop must be what the recognizer read."""
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn

import clip4str_mmcv_lite  # noqa: F401  (mmcv-lite: the mmcv._ext stand-in, before the plugin)
from projects.clip4str_spotting.clip4str_spotting import (TextSpotter, axis_aligned_crop,
                                                          crop_text, read_image, render_scenes)

PROJECT = Path(__file__).resolve().parents[1]
ROOT = PROJECT.parents[1]
DBNET = PROJECT / 'configs' / 'dbnet_resnet18_fpnc_synth-scenes.py'
TINY_CONFIG = ROOT / 'configs' / 'clip4str' / 'clip4str-tiny.py'


class KnownTextMap(nn.Module):
    """Stands in for DBNet's binarisation branch (``det_head.binarize``): logits +10 inside the
    given quadrilaterals, -10 elsewhere, at the network input's resolution (4x the features')."""

    def __init__(self, quads, height: int, width: int):
        super().__init__()
        mask = np.zeros((height, width), np.uint8)
        cv2.fillPoly(mask, [np.round(q).astype(np.int32) for q in quads], 1)
        self.register_buffer('logits', torch.from_numpy(mask).float()[None, None] * 20 - 10)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        assert tuple(features.shape[-2:]) == tuple(s // 4 for s in self.logits.shape[-2:])
        return self.logits.expand(features.shape[0], -1, -1, -1)


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """One torch thread in this module and its tools: the inferencers' small batches gain
    nothing from a second one, and lose several times over when the cores are shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def scene(tmp_path_factory):
    """A 320x320 scene (the DBNet config's test size, so no resizing), its path and words."""
    image, instances = next(render_scenes('test', 1, seed=0, size=(320, 320)))
    image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    path = tmp_path_factory.mktemp('scene') / 'scene.png'
    cv2.imwrite(str(path), image)
    quads = [np.float32(i['polygon']).reshape(4, 2) for i in instances]
    assert len(quads) == 3
    return path, image, quads


def assert_one_polygon_per_word(polygons, quads):
    """Each word's centre lies in exactly one polygon, each polygon holds exactly one centre."""
    inside = np.array([[cv2.pointPolygonTest(np.float32(p).reshape(-1, 2),
                                             tuple(map(float, q.mean(0))), False) > 0
                        for q in quads] for p in polygons], dtype=bool).reshape(-1, len(quads))
    assert len(polygons) == len(quads), polygons
    assert (inside.sum(0) == 1).all() and (inside.sum(1) == 1).all(), inside


def test_mmocr_inferencer_with_dbnet_and_clip4str(scene):
    from mmocr.apis import MMOCRInferencer
    path, image, quads = scene
    ocr = MMOCRInferencer(det=str(DBNET), rec=str(TINY_CONFIG), device='cpu')
    ocr.textdet_inferencer.model.det_head.binarize = KnownTextMap(quads, *image.shape[:2])
    pred = ocr(str(path), rec_batch_size=8)['predictions'][0]
    assert_one_polygon_per_word(pred['det_polygons'], quads)
    assert len(pred['rec_texts']) == len(pred['rec_scores']) == 3
    # what MMOCR read is our recognizer on MMOCR's crop of each polygon, in order
    crops = [axis_aligned_crop(image, p) for p in pred['det_polygons']]
    alone = ocr.textrec_inferencer(crops, return_datasamples=True, progress_bar=False)
    alone = alone['predictions']
    assert pred['rec_texts'] == [s.pred_text.item for s in alone]
    assert np.allclose(pred['rec_scores'], [np.mean(s.pred_text.score) for s in alone],
                       rtol=1e-5, atol=0)
    assert len(set(pred['rec_scores'])) == 3                     # three different crops


def test_text_spotter_crops_every_word_and_reads_it(scene):
    _, image, quads = scene
    spotter = TextSpotter(str(DBNET), str(TINY_CONFIG), device='cpu', rec_batch_size=2)
    spotter.detector.model.det_head.binarize = KnownTextMap(quads, *image.shape[:2])
    result = spotter(image)
    assert_one_polygon_per_word(result['polygons'], quads)
    assert result['skipped'] == 0 and all(s > 0.9 for s in result['det_scores'])
    crops = [crop_text(image, p, rectify=True, pad=0.2) for p in result['polygons']]
    assert all(c.shape[1] > c.shape[0] for c in crops)           # upright: wider than tall
    alone = spotter.recognizer(crops, return_datasamples=True, progress_bar=False)
    alone = alone['predictions']
    assert result['texts'] == [s.pred_text.item for s in alone]
    assert np.allclose(result['rec_scores'], [np.mean(s.pred_text.score) for s in alone],
                       rtol=1e-5, atol=0)
    assert len(set(result['rec_scores'])) == 3


def test_read_image_names_the_bad_file(tmp_path):
    bad = tmp_path / 'broken.jpg'
    bad.write_bytes(b'\xff\xd8 not really a jpeg')
    with pytest.raises(ValueError, match='broken.jpg'):
        read_image(str(bad))
    empty = tmp_path / 'empty.png'
    empty.write_bytes(b'')
    with pytest.raises(ValueError, match='empty.png'):
        read_image(str(empty))


@pytest.fixture(scope='module')
def whole_image_detector(tmp_path_factory):
    """DBNet weights whose text map covers every image (the last layer: zero weights, bias
    +10), so each image gives one polygon around all of it."""
    from mmocr.apis import TextDetInferencer
    state = TextDetInferencer(model=str(DBNET), device='cpu').model.state_dict()
    state['det_head.binarize.6.weight'].zero_()
    state['det_head.binarize.6.bias'].fill_(10.0)
    path = tmp_path_factory.mktemp('dbnet') / 'whole_image.pth'
    torch.save(dict(state_dict=state, meta={}), str(path))
    return path


def test_spot_tool_processes_a_folder_with_awkward_images(scene, whole_image_detector,
                                                          tmp_path):
    folder = tmp_path / 'images'
    folder.mkdir()
    colour = scene[1]
    images = {'a_colour.jpg': colour, 'b_gray.png': cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY),
              'c_rgba.png': cv2.cvtColor(colour, cv2.COLOR_BGR2BGRA), 'd_tiny.png': colour[:3, :5],
              'e_large.jpg': cv2.resize(colour, (2400, 1600)),
              'f_16bit.png': colour.astype(np.uint16) * 257}
    for name, image in images.items():
        cv2.imwrite(str(folder / name), image)
    (folder / 'g_broken.jpg').write_bytes(b'\xff\xd8 truncated')
    out = tmp_path / 'spots'
    proc = subprocess.run(
        [sys.executable, str(PROJECT / 'tools' / 'spot.py'), str(folder), '--det', str(DBNET),
         '--det-weights', str(whole_image_detector), '--rec', str(TINY_CONFIG), '--out-dir',
         str(out), '--device', 'cpu', '--vis', '--rec-batch-size', '4'],
        capture_output=True, text=True, timeout=600, env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode == 1, proc.stderr[-2000:]          # one file failed ...
    assert 'g_broken.jpg' in proc.stderr and 'Traceback' not in proc.stderr
    assert 'spotted 6 of 7 images' in proc.stdout             # ... the rest were processed
    results = {Path(r['image']).name: r for r in
               (json.loads(p.read_text()) for p in out.glob('*.json'))}
    assert sorted(results) == sorted(images)
    for name, result in results.items():
        height, width = images[name].shape[:2]
        assert len(result['polygons']) == len(result['texts']) == len(result['rec_scores']) == 1
        box = np.float32(result['polygons'][0]).reshape(-1, 2)
        assert box.min(0).tolist() <= [1, 1] and box.max(0).tolist() >= [width - 2, height - 2]
        assert isinstance(result['texts'][0], str) and 0 < result['rec_scores'][0] <= 1
    assert len(list((out / 'vis').glob('*.jpg'))) == 6


def test_read_image_refuses_a_huge_header_and_a_fifo(tmp_path):
    from tests.hostile_images import claimed_png, fifo
    (tmp_path / 'huge.png').write_bytes(claimed_png(40000, 40000))
    with pytest.raises(ValueError, match='huge.png as an image: 1600000000 pixels, over the '
                                         'limit'):
        read_image(str(tmp_path / 'huge.png'))
    with pytest.raises(ValueError, match='pipe.png as an image: not a regular file'):
        read_image(str(fifo(tmp_path / 'pipe.png')))
