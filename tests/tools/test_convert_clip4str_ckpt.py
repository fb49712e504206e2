"""Official checkpoints -> plugin checkpoints: round trip, safety and clear errors."""
import errno
import importlib.util
import os
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from clip4str_plugin import fileio
from clip4str_plugin.weights.loading import load_checkpoint_file
from conftest import ROOT, Exploit, build_model, fixture_model, make_samples, run_tool
from fixtures.hub_cache import cache_file
from fixtures.lightning_ckpt import to_official_layout, write_lightning_ckpt
from fixtures.make_official_tiny import load_official_tiny

CONVERT = str(ROOT / 'tools' / 'convert_clip4str_ckpt.py')


def run_convert(*args, env=None):
    return subprocess.run([sys.executable, CONVERT, *map(str, args)], capture_output=True,
                          text=True, timeout=300, env=env)


@pytest.fixture(scope='module')
def tiny_official():
    torch.manual_seed(3)
    model = fixture_model()
    return model, to_official_layout(model.state_dict())


def test_round_trip(tiny_official, tmp_path):
    model, official = tiny_official
    src, dst = tmp_path / 'clip4str_tiny.ckpt', tmp_path / 'converted.pth'
    write_lightning_ckpt(src, official)
    out = run_convert(src, dst)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f'keys mapped: {len(model.state_dict())}' in out.stdout
    assert 'no shape mismatch' in out.stdout
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


def test_refuses_a_checkpoint_that_would_run_code(tiny_official, tmp_path):
    marker = tmp_path / 'marker'
    src = tmp_path / 'evil.ckpt'
    write_lightning_ckpt(src, tiny_official[1], extra={'callbacks': Exploit(marker)})
    out = run_convert(src, tmp_path / 'out.pth')
    assert out.returncode != 0
    assert out.stderr.startswith(f'error: refusing {src}: ') and 'posix.system' in out.stderr
    assert not marker.exists() and not (tmp_path / 'out.pth').exists()


def test_clear_errors(tiny_official, tmp_path):
    model, official = tiny_official
    good = tmp_path / 'good.ckpt'
    write_lightning_ckpt(good, official)
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
                      ROOT / 'configs' / 'clip4str' / 'clip4str-b16.py')
    assert out.returncode != 0 and 'does not match the config' in out.stderr
    assert 'shape mismatch' in out.stdout and not (tmp_path / 'x.pth').exists()


def test_converts_a_file_named_on_the_hub_offline(tiny_official, tmp_path):
    """``hf-hub:org/repo/file`` (the authors' .pt files are on mzhaoshuai/CLIP4STR) resolves
    through the Hugging Face cache, here with HF_HUB_OFFLINE=1; uncached, one line."""
    model, official = tiny_official
    cache = tmp_path / 'hub'
    cache_file(cache, 'mzhaoshuai/CLIP4STR', 'clip4str_tiny.pt',
               lambda path: write_lightning_ckpt(path, official))
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


def test_never_writes_onto_its_source_or_an_existing_file(tiny_official, tmp_path):
    model, official = tiny_official
    src, dst = tmp_path / 'official.ckpt', tmp_path / 'converted.pth'
    write_lightning_ckpt(src, official)
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


def test_a_full_disk_is_one_line(tiny_official, tmp_path, monkeypatch):
    """ENOSPC while the converted file is written: one line naming DST, no temporary left
    (torch's own file writer reported it as a RuntimeError without the cause)."""
    def full(*_):
        raise OSError(errno.ENOSPC, 'No space left on device')

    src, dst = tmp_path / 'official.ckpt', tmp_path / 'converted.pth'
    write_lightning_ckpt(src, tiny_official[1])
    monkeypatch.setattr(fileio.os, 'fsync', full)
    for extra in ([], ['--safetensors']):
        assert run_tool('convert_clip4str_ckpt.py', src, dst, *extra,
                        monkeypatch=monkeypatch) == \
            f'error: no space left on device while writing {dst}'
        assert sorted(p.name for p in tmp_path.iterdir()) == ['official.ckpt']


def test_the_released_variants_name_shipped_configs():
    spec = importlib.util.spec_from_file_location('convert_clip4str_ckpt', CONVERT)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert all((ROOT / 'configs' / 'clip4str' / name).is_file() for name in tool.VARIANTS.values())
