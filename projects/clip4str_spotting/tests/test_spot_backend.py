"""tools/spot.py --backend onnxruntime / openvino: the recognizer exported by
tools/export_onnx.py reads the crops as the PyTorch checkpoint does (the whole-image detector of
test_spotter gives one word per image); an export missing or asked for attention is refused."""
import json

import cv2
import numpy as np
import pytest
import torch

import clip4str_mmcv_lite  # noqa: F401  (mmcv-lite: the mmcv._ext stand-in, before the plugin)
from clip4str_plugin.deploy import export_recognizer
from test_spotter import (DBNET, TINY_CONFIG, one_thread, scene,  # noqa: F401
                          whole_image_detector)
from test_spotting_tools import run_tool


@pytest.fixture(scope='module')
def recognizer(tmp_path_factory):
    """A tiny CLIP4STR checkpoint and its export."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmocr.registry import MODELS
    pytest.importorskip('onnxruntime', reason='onnxruntime is not installed (pip install '
                                              'clip4str_plugin[onnxruntime])')
    init_default_scope('mmocr')
    cfg = Config.fromfile(str(TINY_CONFIG))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    folder = tmp_path_factory.mktemp('rec')
    torch.save(dict(state_dict=model.state_dict(), meta={}), str(folder / 'rec.pth'))
    export_recognizer(model, str(folder / 'export'), cfg.model.data_preprocessor.to_dict())
    return folder / 'rec.pth', folder / 'export'


def test_backends_read_as_pytorch(scene, whole_image_detector, recognizer,  # noqa: F811
                                  tmp_path, monkeypatch):
    checkpoint, export = recognizer
    images = tmp_path / 'images'
    images.mkdir()
    cv2.imwrite(str(images / 'a.png'), scene[1])
    cv2.imwrite(str(images / 'b.png'), scene[1][:120, :200])
    common = [images, '--det', DBNET, '--det-weights', whole_image_detector, '--rec',
              TINY_CONFIG, '--device', 'cpu']
    results = {}
    for backend in ('pytorch', 'onnxruntime', 'openvino'):
        if backend == 'openvino':
            pytest.importorskip('openvino')
        weights = checkpoint if backend == 'pytorch' else export
        out = tmp_path / backend
        assert run_tool('spot.py', *common, '--rec-weights', weights, '--backend', backend,
                        '--out-dir', out, monkeypatch=monkeypatch) == 0
        results[backend] = [json.loads((out / f'{n}.json').read_text()) for n in ('a.png',
                                                                                   'b.png')]
    want = results.pop('pytorch')
    assert all(len(r['texts']) == 1 for r in want)
    for backend, got in results.items():
        for a, b in zip(got, want):
            assert a['texts'] == b['texts'] and a['polygons'] == b['polygons'], backend
            assert a['rec_scores'] == pytest.approx(b['rec_scores'], abs=1e-4)


def test_refusals(recognizer, tmp_path, monkeypatch):
    checkpoint, export = recognizer
    image = tmp_path / 'w.png'
    cv2.imwrite(str(image), np.zeros((64, 64, 3), np.uint8))
    common = [image, '--det', DBNET, '--rec', TINY_CONFIG, '--device', 'cpu', '--out-dir',
              tmp_path / 'out', '--backend', 'onnxruntime']
    assert run_tool('spot.py', *common, monkeypatch=monkeypatch) == \
        '--backend onnxruntime runs the export given as --rec-weights EXPORT_DIR'
    assert run_tool('spot.py', *common, '--rec-weights', export, '--vis', '--attention',
                    monkeypatch=monkeypatch) == \
        '--backend onnxruntime runs the export given as --rec-weights EXPORT_DIR and records ' \
        'no attention: drop --attention'
    assert run_tool('spot.py', *common, '--rec-weights', checkpoint,
                    monkeypatch=monkeypatch) == \
        f'error: {checkpoint} is not an exported model: no manifest.json (make one with ' \
        'tools/export_onnx.py CONFIG CHECKPOINT OUT_DIR)'
