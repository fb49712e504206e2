"""Official checkpoints -> plugin checkpoints: round trip, safety and clear errors."""
import enum
import os
import subprocess
import sys
import types

import pytest
import torch
from mmengine.config import Config

from clip4str_plugin.weights.mmengine_loader import load_checkpoint_file
from clip4str_plugin.weights.reference_layout import PREFIX_MAP
from conftest import ROOT, Exploit, build_model, fixture_model, make_samples
from fixtures.hub_cache import cache_file
from fixtures.make_official_tiny import load_official_tiny

CONVERT = str(ROOT / 'tools' / 'convert_clip4str_ckpt.py')


def to_reference_layout(state):
    """The reference's key names for a plugin state dict (the inverse of the key map)."""
    out = {}
    for key, value in state.items():
        src = next(s for s, d in PREFIX_MAP if key.startswith(d))
        dst = next(d for s, d in PREFIX_MAP if s == src)
        out[src + key[len(dst):]] = value.clone()
    out['clip_model.logit_scale'] = torch.tensor(4.6052)
    return out


def fake_module(name, **attrs):
    """A module the pickle will name, registered only while the checkpoint is written."""
    module = types.ModuleType(name)
    for key, value in attrs.items():
        value.__module__ = name
        setattr(module, key, value)
    return module


class AttributeDict(dict):
    pass


class Precision(enum.Enum):
    HALF = 16


class Scheduler:

    def __init__(self):
        self.last_epoch = 3

    def anneal(self):
        return 0


def write_lightning_ckpt(path, reference_state, extra=None):
    """A Lightning-1.6-like checkpoint: state_dict, hyper-parameters as an AttributeDict with
    an enum, a scheduler state holding a bound method: objects of modules we never import."""
    modules = {'pytorch_lightning': fake_module('pytorch_lightning'),
               'pytorch_lightning.utilities': fake_module('pytorch_lightning.utilities'),
               'pytorch_lightning.utilities.parsing': fake_module(
                   'pytorch_lightning.utilities.parsing', AttributeDict=AttributeDict),
               'omegaconf': fake_module('omegaconf', Precision=Precision, Scheduler=Scheduler)}
    saved = {k: sys.modules.get(k) for k in modules}
    sys.modules.update(modules)
    try:
        sched = Scheduler()
        hparams = AttributeDict(charset_train='0123', max_label_length=25, refine_iters=1,
                                precision=Precision.HALF, clip_pretrained='/home/x/ViT.pt')
        ckpt = {'epoch': 2, 'global_step': 10, 'pytorch-lightning_version': '1.6.5',
                'state_dict': reference_state, 'hyper_parameters': hparams,
                'lr_schedulers': [{'anneal_func': sched.anneal, 'last_epoch': 3}]}
        ckpt.update(extra or {})
        torch.save(ckpt, str(path))
    finally:
        for key, value in saved.items():
            if value is None:
                sys.modules.pop(key)
            else:
                sys.modules[key] = value


def run_convert(*args, env=None):
    return subprocess.run([sys.executable, CONVERT, *map(str, args)], capture_output=True,
                          text=True, timeout=300, env=env)


@pytest.fixture(scope='module')
def tiny_reference():
    torch.manual_seed(3)
    model = fixture_model()
    return model, to_reference_layout(model.state_dict())


def test_round_trip(tiny_reference, tmp_path):
    model, reference = tiny_reference
    src, dst = tmp_path / 'clip4str_tiny.ckpt', tmp_path / 'converted.pth'
    write_lightning_ckpt(src, reference)
    out = run_convert(src, dst)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f'keys mapped: {len(model.state_dict())}' in out.stdout and 'no shape mismatch' in out.stdout
    assert 'clip_model.logit_scale' in out.stdout      # reported as not mapped
    converted = load_checkpoint_file(str(dst))
    cfg = Config.fromstring(converted['meta']['cfg'], '.py')
    rebuilt = build_model(cfg.model).eval()
    rebuilt.load_state_dict(converted['state_dict'], strict=True)
    for key, value in model.state_dict().items():      # every tensor where it belongs
        assert torch.equal(rebuilt.state_dict()[key], value), key
    images = torch.rand(2, 3, 224, 224) * 2 - 1
    with torch.no_grad():
        expected = model.decoder.decode(model.backbone(images))[0]
        actual = rebuilt.decoder.decode(rebuilt.backbone(images))[0]
    assert torch.equal(expected, actual)


def test_converts_the_official_fixture_and_reproduces_it(tmp_path):
    src, dst = tmp_path / 'official.ckpt', tmp_path / 'official.safetensors'
    weights, stages = load_official_tiny()
    write_lightning_ckpt(src, weights)
    out = run_convert(src, dst, '--safetensors')
    assert out.returncode == 0, out.stdout + out.stderr
    converted = load_checkpoint_file(str(dst))
    model = build_model(Config.fromstring(converted['meta']['cfg'], '.py').model).eval()
    model.load_state_dict(converted['state_dict'])
    samples = make_samples([''] * 4, shape=(224, 224))
    with torch.no_grad():
        preds = model.decoder.predict(model.backbone(torch.from_numpy(stages['images'])), None,
                                      samples)
    assert [p.pred_text.item for p in preds] == list(stages['pred_raw'])


def test_refuses_a_checkpoint_that_would_run_code(tiny_reference, tmp_path):
    marker = tmp_path / 'marker'
    src = tmp_path / 'evil.ckpt'
    write_lightning_ckpt(src, tiny_reference[1], extra={'callbacks': Exploit(marker)})
    out = run_convert(src, tmp_path / 'out.pth')
    assert out.returncode != 0
    assert 'refusing to call' in out.stderr and 'system' in out.stderr
    assert not marker.exists() and not (tmp_path / 'out.pth').exists()


def test_clear_errors(tiny_reference, tmp_path):
    model, reference = tiny_reference
    good = tmp_path / 'good.ckpt'
    write_lightning_ckpt(good, reference)
    truncated = tmp_path / 'truncated.ckpt'
    truncated.write_bytes(good.read_bytes()[:5000])
    out = run_convert(truncated, tmp_path / 'x.pth')
    assert out.returncode != 0 and 'truncated.ckpt' in out.stderr
    assert 'Traceback' not in out.stderr

    other = tmp_path / 'parseq.ckpt'     # a checkpoint of another model
    torch.save({'state_dict': {'encoder.patch_embed.proj.weight': torch.zeros(3),
                               'head.weight': torch.zeros(2)}}, str(other))
    out = run_convert(other, tmp_path / 'x.pth')
    assert out.returncode != 0 and 'not a CLIP4STR checkpoint' in out.stderr
    assert 'Traceback' not in out.stderr

    out = run_convert(good, tmp_path / 'x.pth', '--config',
                      ROOT / 'configs' / 'clip4str' / 'clip4str_b16.py')
    assert out.returncode != 0 and 'does not match the config' in out.stderr
    assert 'shape mismatch' in out.stdout and not (tmp_path / 'x.pth').exists()


def test_converts_a_file_named_on_the_hub_offline(tiny_reference, tmp_path):
    """``hf-hub:org/repo/file`` (the authors' .pt files are on mzhaoshuai/CLIP4STR) resolves
    through the Hugging Face cache, here with HF_HUB_OFFLINE=1; uncached, one line."""
    model, reference = tiny_reference
    cache = tmp_path / 'hub'
    cache_file(cache, 'mzhaoshuai/CLIP4STR', 'clip4str_tiny.pt',
               lambda path: write_lightning_ckpt(path, reference))
    env = dict(os.environ, HF_HUB_OFFLINE='1', HF_HUB_CACHE=str(cache))
    dst = tmp_path / 'from_hub.pth'
    out = run_convert('hf-hub:mzhaoshuai/CLIP4STR/clip4str_tiny.pt', dst, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert 'source: hf-hub:mzhaoshuai/CLIP4STR/clip4str_tiny.pt (' in out.stdout
    converted = load_checkpoint_file(str(dst))
    assert converted['meta']['converted_from'] == 'clip4str_tiny.pt'
    for key, value in model.state_dict().items():
        assert torch.equal(converted['state_dict'][key], value), key
    out = run_convert('hf-hub:mzhaoshuai/CLIP4STR/clip4str_base_6e9fe947ac.pt',
                      tmp_path / 'base.pth', env=env)
    assert out.returncode != 0 and 'Traceback' not in out.stderr
    assert out.stderr.strip() == (
        'error: cannot fetch hf-hub:mzhaoshuai/CLIP4STR/clip4str_base_6e9fe947ac.pt: it is not in '
        f'the Hugging Face cache ({cache}) and HF_HUB_OFFLINE is set; fetch it once where there '
        'is network (it stays cached), or give a local file')


def test_never_writes_onto_its_source_or_an_existing_file(tiny_reference, tmp_path):
    model, reference = tiny_reference
    src, dst = tmp_path / 'official.ckpt', tmp_path / 'converted.pth'
    write_lightning_ckpt(src, reference)
    original = src.read_bytes()
    for args in ((src, src), (src, src, '--overwrite'), (src, tmp_path / '.' / 'official.ckpt')):
        out = run_convert(*args)
        assert out.returncode == 1 and out.stderr.strip().splitlines() == [
            f'error: {args[1]} is also the input {src}; write the output elsewhere']
        assert src.read_bytes() == original
    dst.write_bytes(b'mine')
    out = run_convert(src, dst)
    assert out.returncode == 1 and out.stderr.strip() == (
        f'error: {dst} already exists; pass --overwrite to replace it, or write elsewhere')
    assert dst.read_bytes() == b'mine'
    out = run_convert(src, dst, '--overwrite')
    assert out.returncode == 0, out.stderr
    assert load_checkpoint_file(str(dst))['meta']['converted_from'] == 'official.ckpt'
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith('.')] == []  # no temporary
