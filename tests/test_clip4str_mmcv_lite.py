"""clip4str_mmcv_lite, the in-process mmcv._ext stand-in: ops import, nms works, missing ops say
so, a real extension is never replaced."""
import sys
import types

import clip4str_mmcv_lite
from conftest import run_python


def test_stub_makes_mmcv_ops_importable_and_explains_missing_ops():
    out = run_python('''
        import clip4str_mmcv_lite, sys, torch
        import mmcv.ops
        ext = sys.modules['mmcv._ext']
        assert getattr(ext, '__clip4str_stub__', False)
        boxes = torch.tensor([[0., 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]])
        keep = mmcv.ops.nms(boxes, torch.tensor([.9, .8, .7]), 0.5)[1]
        print('nms', keep.tolist())
        try:
            mmcv.ops.roi_align(torch.zeros(1, 1, 4, 4), torch.zeros(1, 5), (2, 2))
        except NotImplementedError as err:
            print('error', err)
    ''')
    assert out.returncode == 0, out.stderr
    assert 'nms [0, 2]' in out.stdout
    assert "mmcv op 'roi_align_forward' needs the compiled mmcv extension" in out.stdout
    assert 'install full mmcv' in out.stdout


def test_dbnet_r18_builds_and_predicts_without_compiled_ops():
    out = run_python('''
        import clip4str_mmcv_lite, os, torch, mmocr
        from mmengine.config import Config
        from mmengine.registry import init_default_scope
        from mmocr.registry import MODELS
        from mmocr.structures import TextDetDataSample
        init_default_scope('mmocr')
        cfg = Config.fromfile(os.path.join(os.path.dirname(mmocr.__file__), '.mim', 'configs',
            'textdet', 'dbnet', 'dbnet_resnet18_fpnc_1200e_icdar2015.py'))
        model = MODELS.build(cfg.model).eval()
        sample = TextDetDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64),
                                                 pad_shape=(64, 64), scale_factor=(1., 1.)))
        data = dict(inputs=[torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8)],
                    data_samples=[sample])
        with torch.no_grad():
            print('polygons', type(model.test_step(data)[0].pred_instances.polygons).__name__)
    ''')
    assert out.returncode == 0, out.stderr
    assert 'polygons list' in out.stdout


def test_never_replaces_a_real_extension(monkeypatch):
    real = types.ModuleType('mmcv._ext')
    monkeypatch.setitem(sys.modules, 'mmcv._ext', real)
    assert clip4str_mmcv_lite.install() is False
    assert sys.modules['mmcv._ext'] is real
