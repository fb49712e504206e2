"""engine/hooks/inference_precision_hook: the weights cast for the Runner's test loop and back,
the choice logged; tools/test.py --precision adds the hook."""
import cv2
import pytest
import torch
from mmengine.hooks import Hook

from clip4str_plugin.datasets.lmdb_io import write_lmdb
from clip4str_plugin.engine.hooks import InferencePrecisionHook
from clip4str_plugin.synth.word_renderer import WordRenderer
from conftest import TINY_CONFIG, load_config


class _DtypeProbe(Hook):
    """Records the image tower's weight dtype at every test iteration."""

    def __init__(self):
        self.seen = []

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.seen.append(runner.model.backbone.visual.conv1.weight.dtype)
        assert all(s.pred_text.score and isinstance(s.pred_text.score[0], float)
                   for s in outputs if s.pred_text.item)


def test_hook_casts_the_weights_for_the_runner_test_loop(tmp_path):
    from mmengine.runner import Runner
    renderer = WordRenderer(seed=0)
    words = ['apple', 'river']
    write_lmdb(str(tmp_path / 'test'), [
        (cv2.imencode('.png', renderer.render(w)[:, :, ::-1])[1].tobytes(), w) for w in words])
    cfg = load_config(TINY_CONFIG)
    cfg.model.decoder.refine_iters = 0
    dataset = cfg.test_dataloader.dataset.datasets[0]
    dataset.update(data_root=str(tmp_path), ann_file='test', name='T')
    cfg.test_dataloader.dataset.datasets = [dataset]
    cfg.test_dataloader.update(batch_size=2, num_workers=0)
    cfg.test_evaluator.dataset_prefixes = ['T']
    # only what testing reads (MMEngine formats the whole config with yapf: slow when long)
    runner = Runner(model=cfg.model, work_dir=str(tmp_path / 'work'),
                    test_dataloader=cfg.test_dataloader, test_cfg=dict(type='TestLoop'),
                    test_evaluator=cfg.test_evaluator, default_scope='mmocr',
                    custom_hooks=[dict(type='InferencePrecisionHook', precision='bf16')])
    probe = _DtypeProbe()
    runner.register_hook(probe)
    metrics = runner.test()
    assert probe.seen == [torch.bfloat16]
    assert metrics['T/str/num_samples'] == 2 and 0 <= metrics['T/str/accuracy'] <= 1
    assert runner.model.backbone.visual.conv1.weight.dtype == torch.float32   # after the test
    log = (next((tmp_path / 'work').rglob('*.log'))).read_text()
    assert 'inference precision bf16 (asked: bf16; CPU: ' in log
    with pytest.raises(ValueError, match='precision must be one of'):
        InferencePrecisionHook('half')


def test_tools_test_precision_option(monkeypatch, tmp_path):
    import importlib.util
    import sys

    from conftest import ROOT
    spec = importlib.util.spec_from_file_location('test_tool', ROOT / 'tools' / 'test.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    checkpoint = tmp_path / 'x.pth'          # the tool checks the file before it builds
    torch.save(dict(state_dict={}), checkpoint)

    def hooks(*options):
        monkeypatch.setattr(sys, 'argv', ['test.py', str(TINY_CONFIG), str(checkpoint), *options])
        return [h for h in tool.setup_cfg(tool.parse_args()).get('custom_hooks', [])
                if h['type'] == 'InferencePrecisionHook']

    assert hooks() == []                                    # fp32: nothing cast
    assert hooks('--precision', 'auto') == [dict(type='InferencePrecisionHook', precision='auto')]
    with pytest.raises(SystemExit):
        hooks('--precision', 'int8')
