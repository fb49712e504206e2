"""A checkpoint whose config is code runs nothing, through every entry point that builds a model
from a checkpoint's own config: tools/infer.py, tools/visualize_attention.py --weights, MMOCR's
TextRecInferencer(model=None, weights=...) with the weights-only loader, checkpoint_config().
Each payload (.pth meta, .pth message_hub, .safetensors metadata) would create a marker file
when run, as MMEngine's own reader shows; here each is one line and the marker never appears.
A checkpoint written by MMEngine's Runner still builds and predicts through the safe path."""
import gc
import json
import runpy
import sys
import uuid

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import CheckpointLoader
from safetensors.torch import save_file

from clip4str_plugin.weights.loading import checkpoint_config
from clip4str_plugin.weights.errors import ConfigTextError
from clip4str_plugin.weights.safe_loading import use_weights_only_loader
from conftest import CONFIGS, ROOT

PAYLOADS = {
    'import': "import os\nos.system('touch {marker}')\n",
    'dunder_import': "model = dict()\nx = __import__('os').system('touch {marker}')\n",
    'open': "x = open('{marker}', 'w')\n",
    'custom_imports': "custom_imports = dict(imports=['{module}'])\n",
    'base': "_base_ = ['{base}']\n",
}
PLACES = ['pth_meta', 'pth_message_hub', 'safetensors']


@pytest.fixture(scope='module')
def tools():
    sys.path.insert(0, str(ROOT / 'tools'))
    try:
        import infer
        import visualize_attention
        yield infer, visualize_attention
    finally:
        sys.path.remove(str(ROOT / 'tools'))


@pytest.fixture
def plant(tmp_path, monkeypatch):
    """``plant(name, place) -> checkpoint path`` carrying payload ``name``; the marker it would
    create is ``tmp_path / 'MARKER'``. The weights-only loader is on (undone afterwards)."""
    module = f'config_payload_{uuid.uuid4().hex}'       # a fresh name: an import runs it
    marker = tmp_path / 'MARKER'
    (tmp_path / f'{module}.py').write_text(f'open({str(marker)!r}, "w").close()\n')
    base = tmp_path / 'base_payload.py'
    base.write_text(f"x = __import__('os').system('touch {marker}')\nmodel = dict()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(CheckpointLoader, '_schemes', dict(CheckpointLoader._schemes))
    use_weights_only_loader()

    def make(name, place):
        text = PAYLOADS[name].format(marker=marker, module=module, base=base)
        state = dict(w=torch.zeros(2))
        path = tmp_path / f'{name}_{place}.{place.split("_")[0]}'
        if place == 'safetensors':
            save_file(state, str(path), metadata={'meta': json.dumps(dict(cfg=text))})
        else:
            checkpoint = dict(state_dict=state, meta=dict(cfg=text))
            if place == 'pth_message_hub':     # MMEngine reads this one first
                checkpoint.update(meta=dict(cfg='model = dict()'),
                                  message_hub=dict(runtime_info=dict(cfg=text)))
            torch.save(checkpoint, str(path))
        return str(path), text
    return make


def word_image(folder):
    path = folder / 'word.png'
    cv2.imwrite(str(path), (np.random.default_rng(0).random((32, 100, 3)) * 255).astype(np.uint8))
    return str(path)


def test_the_payloads_run_under_mmengines_own_reader(plant, tmp_path):
    """What the tests below guard against: MMEngine's Config.fromstring runs each of them (but
    the import statement: it turns MMEngine to its lazy-import mode, where ``os.system`` is a
    placeholder that refuses to be called)."""
    for name in set(PAYLOADS) - {'import'}:
        _, text = plant(name, 'pth_meta')
        try:
            Config.fromstring(text, '.py')
        except Exception:        # noqa: B902  (the payload ran before any error)
            pass
        assert (tmp_path / 'MARKER').exists(), name
        (tmp_path / 'MARKER').unlink()


def assert_one_line_refusal(message, path):
    assert '\n' not in message and (f'the config in {path} (' in message), message
    assert 'refusing' in message or 'not Python data' in message, message


@pytest.mark.parametrize('place', PLACES)
@pytest.mark.parametrize('name', list(PAYLOADS))
def test_no_entry_point_runs_a_checkpoint_config(tools, plant, tmp_path, name, place):
    from mmocr.apis import TextRecInferencer
    infer, visualize_attention = tools
    path, _ = plant(name, place)
    image = word_image(tmp_path)
    with pytest.raises(SystemExit) as infer_exit:
        infer.main([path, image, '--out-dir', str(tmp_path / 'out'), '--device', 'cpu'])
    assert str(infer_exit.value).startswith('error: ')
    assert_one_line_refusal(str(infer_exit.value), path)
    with pytest.raises(SystemExit) as attention_exit:
        visualize_attention.main([image, '--weights', path, '--out-dir', str(tmp_path / 'att'),
                                  '--device', 'cpu'])
    assert str(attention_exit.value) == str(infer_exit.value)
    for build in (lambda: TextRecInferencer(model=None, weights=path, device='cpu'),
                  lambda: checkpoint_config(path)):
        with pytest.raises(ConfigTextError) as refused:
            build()
        assert_one_line_refusal(str(refused.value), path)
    assert not (tmp_path / 'MARKER').exists()
    assert not (tmp_path / 'out').exists() and not (tmp_path / 'att').exists()


@pytest.fixture(scope='module')
def runner_checkpoint(tmp_path_factory):
    """A checkpoint MMEngine's Runner wrote: tools/train.py, the tiny synth config, 1 iteration
    on 8 rendered words (pretty_text without yapf's layout, which takes seconds per call and
    changes no token)."""
    from clip4str_plugin.datasets.lmdb_io import write_lmdb
    from clip4str_plugin.synth.word_renderer import render_samples
    tmp = tmp_path_factory.mktemp('runner')
    write_lmdb(str(tmp / 'synth' / 'train'), render_samples('train', 8, seed=0))
    pretty_text = Config.pretty_text.fget
    argv = ['tools/train.py', str(CONFIGS / 'clip4str' / 'clip4str-tiny_3k_synth.py'),
            '--work-dir', str(tmp / 'run'), '--cfg-options', 'max_iters=1',
            'train_dataloader.batch_size=2', 'model.decoder.refine_iters=0', 'val_cfg=None',
            'val_dataloader=None', 'val_evaluator=None', 'default_hooks.checkpoint.save_best=None']
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Config, 'pretty_text', property(lambda cfg: pretty_text(
            Config(cfg.to_dict(), format_python_code=False))))
        patch.setattr(CheckpointLoader, '_schemes', dict(CheckpointLoader._schemes))
        patch.setattr(sys, 'argv', argv)
        patch.setattr(sys, 'path', list(sys.path))
        patch.setenv('SYNTH_DATA_ROOT', str(tmp / 'synth'))
        runpy.run_path(str(ROOT / 'tools' / 'train.py'), run_name='__main__')
    gc.collect()
    return str(tmp / 'run' / 'iter_1.pth')


def test_a_runner_checkpoint_builds_and_predicts_through_the_safe_path(tools, runner_checkpoint,
                                                                       tmp_path, monkeypatch,
                                                                       capsys):
    from mmocr.apis import TextRecInferencer
    infer, _ = tools
    raw = torch.load(runner_checkpoint, weights_only=False)
    assert raw['message_hub']['runtime_info']['cfg'] == raw['meta']['cfg']   # both written
    assert 'dict(' in raw['meta']['cfg']                                      # pretty_text's
    monkeypatch.setattr(CheckpointLoader, '_schemes', dict(CheckpointLoader._schemes))
    image = word_image(tmp_path)
    infer.main([runner_checkpoint, image, '--out-dir', str(tmp_path / 'out'), '--device', 'cpu'])
    assert '1 images read, 0 skipped' in capsys.readouterr().out
    run_dir, = (tmp_path / 'out').iterdir()
    text = json.loads((run_dir / 'predictions.json').read_text())['predictions'][0]['text']
    config = checkpoint_config(runner_checkpoint)
    assert config.model.backbone.patch_size == (8, 8) and config.max_iters == 1
    for model in (None, config):          # MMOCR's own path, on the re-written text, and ours
        rec = TextRecInferencer(model=model, weights=runner_checkpoint, device='cpu')
        assert rec(cv2.imread(image))['predictions'][0]['text'] == text
