"""DPTR's pre-training hooks through tools/train.py and the MMEngine Runner, on the shipped tiny
configs with data made here: the ORP bank built once from an image folder and then reused (its
shape checked), the decoder file written at the end, and fine-tuning from it (transfer table,
frozen-then-released networks, a resumed run left as it is, nothing loading refused)."""
import gc
import json
import runpy
import sys
import uuid

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import MMLogger
from mmengine.runner.checkpoint import CheckpointLoader
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save_file

import clip4str_plugin.engine.hooks.orp_bank_hook as orp_bank_hook
from clip4str_plugin.datasets.lmdb_io import write_lmdb
from clip4str_plugin.synth.word_renderer import render_samples
from clip4str_plugin.models.parseq.transfer import DECODER_FILE_FORMAT
from clip4str_plugin.weights.loading import load_checkpoint_file
from clip4str_plugin.weights.safe_loading import use_weights_only_loader
from conftest import CONFIGS, ROOT

PRETRAIN = str(CONFIGS / 'dptr' / 'dptr_pretrain_tiny_synth.py')
FINETUNE = str(CONFIGS / 'dptr' / 'dptr_finetune_vit-tiny_synth.py')
QUIET = ['val_cfg=None', 'val_dataloader=None', 'val_evaluator=None',
         'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
         'default_hooks.checkpoint.save_best=None']
PRETRAIN_FAST = [*QUIET, 'max_iters=3', 'train_dataloader.batch_size=4',
                 'model.backbone.layers=1', 'custom_hooks.0.batch_size=4']
FINETUNE_FAST = [*QUIET, 'max_iters=4', 'train_dataloader.batch_size=2',
                 'model.decoder.refine_iters=0', 'default_hooks.checkpoint.interval=3',
                 'default_hooks.checkpoint.max_keep_ckpts=4']
WORDS = ['hello', 'world', 'text', 'only', 'decoder', 'pre', 'training', 'clip', 'bank', 'orp']


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    """Labels (word lists), word images (LMDB) and 'natural' images, one unreadable."""
    root = tmp_path_factory.mktemp('dptr')
    for split in ('train', 'val'):
        (root / split).write_text('\n'.join(WORDS) + '\n')
    write_lmdb(str(root / 'images' / 'train'), render_samples('train', 8, seed=0))
    images = root / 'natural'
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(5):
        Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(images / f'{i}.png')
    (images / 'broken.png').write_bytes(b'not a png')
    return root


def patch_run(patch, data, work):
    """What every run needs: no yapf formatting of the config (seconds per run here),
    weights-only loading as the tool (undone afterwards), the data's paths, the bank in
    ``work``."""
    patch.setattr(Config, 'pretty_text', property(lambda cfg: '# config elided (tests)'))
    patch.setattr(CheckpointLoader, '_schemes', dict(CheckpointLoader._schemes))
    use_weights_only_loader()
    patch.setattr(sys, 'path', list(sys.path))
    patch.setenv('SYNTH_DATA_ROOT', str(data))
    patch.setenv('ORP_IMAGES', str(data / 'natural'))
    patch.setenv('ORP_BANK', str(work / 'bank.safetensors'))


class Recorder(Hook):
    """Copies of the decoder network and the rest of the model at train start and after each
    iteration, keyed by the iterations done."""
    priority = 'LOWEST'

    def __init__(self):
        self.decoder, self.others = {}, {}

    def _record(self, runner, done):
        model = runner.model
        self.decoder[done] = {k: v.clone() for k, v in model.decoder.decoder.state_dict().items()}
        self.others[done] = {k: v.clone() for k, v in model.state_dict().items()
                             if not k.startswith('decoder.')}

    def before_train(self, runner):
        self._record(runner, runner.iter)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self._record(runner, runner.iter + 1)     # the loop counts the iteration after its hooks


def log_text(work_dir) -> str:
    return ''.join(path.read_text() for path in work_dir.glob('*/*.log'))


def train(config, work_dir, *options, resume=None, recorder=None):
    """tools/train.py CONFIG --work-dir WORK_DIR [--resume CKPT] --cfg-options OPTIONS."""
    argv = ['tools/train.py', config, '--work-dir', str(work_dir),
            *(['--resume', str(resume)] if resume else []), '--cfg-options',
            f'experiment_name=run-{uuid.uuid4().hex}', *options]
    gc.collect()
    MMLogger.get_instance(f'test-{uuid.uuid4().hex}')   # print_log: this test's stdout
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, 'argv', argv)
        if recorder is not None:
            from mmengine.runner import Runner
            original = Runner.train

            def train_with_recorder(runner):
                runner.register_hook(recorder)
                return original(runner)
            patch.setattr(Runner, 'train', train_with_recorder)
        runpy.run_path(str(ROOT / 'tools' / 'train.py'), run_name='__main__')


@pytest.fixture(scope='module')
def pretrained(data, tmp_path_factory):
    """One tiny DPTR pre-training run: its work dir (the bank is built there) and how often the
    bank was extracted."""
    work = tmp_path_factory.mktemp('pretrain')
    calls = []
    with pytest.MonkeyPatch.context() as patch:
        patch_run(patch, data, work)
        extract = orp_bank_hook.extract_bank
        patch.setattr(orp_bank_hook, 'extract_bank',
                      lambda *args, **kwargs: calls.append(1) or extract(*args, **kwargs))
        train(PRETRAIN, work, *PRETRAIN_FAST)
    return work, calls


@pytest.fixture(scope='module')
def finetuned(data, pretrained, tmp_path_factory):
    """Fine-tuning from the pre-trained decoder file, frozen for 2 of 4 iterations."""
    work, recorder = tmp_path_factory.mktemp('finetune'), Recorder()
    with pytest.MonkeyPatch.context() as patch:
        patch_run(patch, data / 'images', work)
        patch.setenv('DPTR_DECODER', str(pretrained[0] / 'decoder_pretrained.safetensors'))
        train(FINETUNE, work, *FINETUNE_FAST, 'custom_hooks.0.freeze_iters=2', recorder=recorder)
    return work, recorder


def test_pretraining_builds_the_bank_and_writes_the_decoder_file(pretrained):
    work, calls = pretrained
    assert len(calls) == 1
    with safe_open(str(work / 'bank.safetensors'), framework='pt') as f:
        bank = f.get_tensor('features')
        tower = f.metadata()['tower']
    assert bank.shape == (5, 129, 128) and bank.dtype == torch.float16
    assert tower.startswith('random (seed 0) {') and '"type": "CLIPVisionBackbone"' in tower
    assert not list(work.glob('.bank.safetensors.*'))                  # no temporary file left
    log = log_text(work)
    assert f'ORPBankHook: wrote {work}/bank.safetensors: (5, 129, 128) fp16 from 5 images; ' \
        f'skipped 1 unreadable (e.g. {work.parent}' in log
    assert 'serves memories of 78 tokens of width 128' in log
    # the decoder file: the network of the last checkpoint under its own names, with metadata
    path = work / 'decoder_pretrained.safetensors'
    state = load_checkpoint_file(str(work / 'iter_3.pth'))['state_dict']
    network = {k[len('decoder.decoder.'):]: v for k, v in state.items()}
    with safe_open(str(path), framework='pt') as f:
        assert sorted(f.keys()) == sorted(network)
        for key in f.keys():
            assert torch.equal(f.get_tensor(key), network[key]), key
        meta = json.loads(f.metadata()['meta'])
    assert meta['format'] == DECODER_FILE_FORMAT
    assert meta['geometry'] == dict(embed_dim=128, depth=2, num_heads=8, mlp_ratio=4.0,
                                    dropout=0.0)
    assert meta['max_seq_len'] == 25 and meta['iteration'] == 3
    assert len(meta['dictionary']) == 97 and meta['dictionary'][1:4] == ['0', '1', '2']
    assert meta['source_checkpoint'] == 'iter_3.pth'    # beside the decoder file; no machine path
    assert meta['config'] == PRETRAIN


def test_an_existing_bank_is_reused_not_rebuilt(pretrained, data, tmp_path):
    work, calls = pretrained
    bank = work / 'bank.safetensors'
    mtime = bank.stat().st_mtime_ns
    with pytest.MonkeyPatch.context() as patch:
        patch_run(patch, data, work)
        train(PRETRAIN, tmp_path, *PRETRAIN_FAST, 'max_iters=1')
    assert len(calls) == 1 and bank.stat().st_mtime_ns == mtime
    log = log_text(tmp_path)
    assert f'ORPBankHook: ORP bank {bank} (5, 129, 128) serves' in log
    assert 'does not record which image tower' not in log
    assert (tmp_path / 'decoder_pretrained.safetensors').is_file()


@pytest.mark.parametrize('tower', ['weights sha256 0123', None])
def test_a_bank_of_another_tower_is_refused_one_of_no_record_reused_with_a_warning(
        pretrained, data, tmp_path, tower):
    """A bank records the tower that built it (a CLIP weights file's SHA-256): one built with
    other CLIP weights cannot serve this config's memory unnoticed."""
    bank = tmp_path / 'bank.safetensors'
    with safe_open(str(pretrained[0] / 'bank.safetensors'), framework='pt') as f:
        features, recorded = f.get_tensor('features'), f.metadata()['tower']
    save_file({'features': features}, str(bank), metadata=tower and {'tower': tower})
    with pytest.MonkeyPatch.context() as patch:
        patch_run(patch, data, tmp_path)
        if tower is None:
            train(PRETRAIN, tmp_path / 'work', *PRETRAIN_FAST, 'max_iters=1')
            assert (f'ORPBankHook: ORP bank {bank} does not record which image tower built it: '
                    'reused as it is') in log_text(tmp_path / 'work')
            return
        with pytest.raises(SystemExit) as refused:
            train(PRETRAIN, tmp_path / 'work', *PRETRAIN_FAST)
    assert str(refused.value) == (
        f'error: ORP bank {bank} was built by another image tower (weights sha256 0123) than '
        f'the config\'s ({recorded}); delete it and ORPBankHook rebuilds it from '
        f'{data / "natural"} with CLIPVisionBackbone (pretrained=None), or set '
        'model.encoder.bank to a bank of this CLIP')


def test_a_bank_that_cannot_serve_is_refused_in_one_line(data, tmp_path):
    bank = tmp_path / 'bank.safetensors'
    save_file({'features': torch.zeros(5, 40, 64, dtype=torch.float16)}, str(bank))
    with pytest.MonkeyPatch.context() as patch:
        patch_run(patch, data, tmp_path)
        with pytest.raises(SystemExit) as refused:
            train(PRETRAIN, tmp_path / 'work', *PRETRAIN_FAST)
    assert str(refused.value) == (
        f'error: ORP bank {bank} has shape (5, 40, 64) but the model needs (N >= 4, T >= 78, '
        'D = 128): image tokens of the CLIP whose text tower makes the memory (78 tokens of '
        f'width 128); delete it and ORPBankHook rebuilds it from {data / "natural"} with '
        'CLIPVisionBackbone (pretrained=None), or set model.encoder.bank to a bank of this CLIP')
    with safe_open(str(bank), framework='pt') as f:                   # left as it was
        assert tuple(f.get_slice('features').get_shape()) == (5, 40, 64)


def test_the_tool_writes_the_bank_the_hook_builds(pretrained, data, tmp_path):
    out = tmp_path / 'tool_bank.safetensors'
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, 'argv', ['tools/extract_orp_bank.py', str(data / 'natural'), str(out),
                                    '--config', PRETRAIN, '--batch-size', '2'])
        patch.setattr(sys, 'path', list(sys.path))
        runpy.run_path(str(ROOT / 'tools' / 'extract_orp_bank.py'), run_name='__main__')
    with safe_open(str(out), framework='pt') as a, \
            safe_open(str(pretrained[0] / 'bank.safetensors'), framework='pt') as b:
        assert torch.equal(a.get_tensor('features'), b.get_tensor('features'))
        assert a.metadata() == b.metadata()


def test_the_tool_refuses_a_missing_folder_in_one_line(tmp_path):
    with pytest.MonkeyPatch.context() as patch, pytest.raises(SystemExit) as refused:
        patch.setattr(sys, 'argv', ['tools/extract_orp_bank.py', str(tmp_path / 'none'),
                                    str(tmp_path / 'bank.npy'), '--config', PRETRAIN])
        patch.setattr(sys, 'path', list(sys.path))
        runpy.run_path(str(ROOT / 'tools' / 'extract_orp_bank.py'), run_name='__main__')
    assert str(refused.value) == f'error: ORP image folder not found: {tmp_path / "none"}'
    assert not list(tmp_path.iterdir())


def test_finetuning_transfers_then_freezes_then_releases(finetuned, pretrained):
    work, rec = finetuned
    with safe_open(str(pretrained[0] / 'decoder_pretrained.safetensors'), framework='pt') as f:
        source = {key: f.get_tensor(key) for key in f.keys()}
    start = rec.decoder[0]
    assert set(start) == set(source)
    assert all(torch.equal(start[k], source[k]) for k in source)          # transferred
    for done in (1, 2):                                                   # frozen: unchanged
        assert all(torch.equal(rec.decoder[done][k], source[k]) for k in source), done
    changed = [k for k in source if not torch.equal(rec.decoder[3][k], source[k])]
    assert 'head.weight' in changed and len(changed) > len(source) // 2   # released
    assert any(not torch.equal(rec.others[1][k], v) for k, v in rec.others[0].items())
    log = log_text(work)
    assert f'DecoderTransferHook: decoder.decoder from {pretrained[0]}/decoder_pretrained.' \
        f'safetensors (the decoder file)\n{len(source)} loaded\n' in log
    assert 'kept init' not in log
    assert '| decoder.decoder.head.weight' in log
    assert 'DecoderTransferHook: decoder.decoder frozen until iteration 2 (requires_grad off; ' \
        'the optimiser skips them)' in log
    assert 'DecoderTransferHook: decoder networks released at iteration 2' in log


@pytest.mark.parametrize('how', ['resume', 'load_from'])
def test_a_run_from_a_checkpoint_is_not_overwritten(finetuned, data, tmp_path, how):
    work, _ = finetuned
    recorder, checkpoint = Recorder(), work / 'iter_3.pth'
    with pytest.MonkeyPatch.context() as patch:
        patch_run(patch, data / 'images', tmp_path)
        patch.setenv('DPTR_DECODER', str(work.parent / 'missing.safetensors'))   # never read
        if how == 'resume':
            train(FINETUNE, tmp_path / 'work', *FINETUNE_FAST, resume=checkpoint,
                  recorder=recorder)
        else:
            train(FINETUNE, tmp_path / 'work', *FINETUNE_FAST, 'max_iters=1',
                  f'load_from={checkpoint}', recorder=recorder)
    state = load_checkpoint_file(str(checkpoint))['state_dict']
    first = 3 if how == 'resume' else 0
    assert list(recorder.decoder) == [first, first + 1]
    for key, value in recorder.decoder[first].items():
        assert torch.equal(value, state[f'decoder.decoder.{key}']), key
    said = 'resumed from' if how == 'resume' else 'loaded from load_from'
    assert f'DecoderTransferHook: weights {said} {checkpoint}: {work.parent}/missing.' \
        'safetensors not transferred' in log_text(tmp_path / 'work')


def test_a_transfer_that_loads_nothing_is_one_line(pretrained, data, tmp_path):
    checkpoint = pretrained[0] / 'iter_3.pth'
    with pytest.MonkeyPatch.context() as patch:
        patch_run(patch, data / 'images', tmp_path)
        patch.setenv('DPTR_DECODER', str(checkpoint))
        with pytest.raises(SystemExit) as refused:
            train(FINETUNE, tmp_path / 'work', *FINETUNE_FAST, 'custom_hooks.0.prefix=decoder.x.')
    message = str(refused.value)
    assert message.startswith(f"error: no tensor of {checkpoint} (prefix 'decoder.x.') fits "
                              'decoder.decoder: the file holds ') and '\n' not in message
    assert not list((tmp_path / 'work').glob('*.pth'))


@pytest.mark.parametrize('features,why', [
    (torch.full((5, 129, 128), float('nan'), dtype=torch.float16),
     'holds 82560 NaN or infinite values of 82560: a damaged file; delete it to rebuild it'),
    (torch.ones(5, 129, 128, dtype=torch.int8),
     'is int8, not floating-point features: make it with tools/extract_orp_bank.py')])
def test_a_bank_of_nan_or_integers_is_refused_before_training(data, tmp_path, features, why):
    bank = tmp_path / 'bank.safetensors'
    save_file({'features': features}, str(bank))
    with pytest.MonkeyPatch.context() as patch:
        patch_run(patch, data, tmp_path)
        with pytest.raises(SystemExit) as refused:
            train(PRETRAIN, tmp_path / 'work', *PRETRAIN_FAST)
    assert str(refused.value) == f'error: ORP bank {bank} {why}'
    assert not list((tmp_path / 'work').glob('*.pth'))


def test_a_nan_loss_stops_pretraining_without_writing_a_decoder(data, tmp_path):
    """The NaN bank let through (as before its check): the first NaN loss stops the run."""
    import clip4str_plugin.orp_bank_file as orp_bank_file
    save_file({'features': torch.full((5, 129, 128), float('nan'), dtype=torch.float16)},
              str(tmp_path / 'bank.safetensors'))
    with pytest.MonkeyPatch.context() as patch:
        patch_run(patch, data, tmp_path)
        patch.setattr(orp_bank_file, 'check_bank_values', lambda bank, path: None)
        with pytest.raises(SystemExit) as stopped:
            train(PRETRAIN, tmp_path / 'work', *PRETRAIN_FAST)
    assert str(stopped.value).startswith('error: training stopped at iteration 1: the loss was '
                                         'NaN or infinite for 1 iteration(s) in a row (loss nan')
    assert not (tmp_path / 'work' / 'decoder_pretrained.safetensors').exists()
    assert not list((tmp_path / 'work').glob('*.pth'))


def test_the_tool_skips_oversized_images_and_never_opens_a_fifo(data, tmp_path, capsys):
    from hostile_images import claimed_png, fifo
    folder = tmp_path / 'natural'
    folder.mkdir()
    for name in ('0.png', '1.png'):
        (folder / name).write_bytes((data / 'natural' / name).read_bytes())
    (folder / 'huge.png').write_bytes(claimed_png(15000, 15000))
    fifo(folder / 'pipe.png')
    out = tmp_path / 'bank.safetensors'
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, 'argv', ['tools/extract_orp_bank.py', str(folder), str(out),
                                    '--config', PRETRAIN])
        patch.setattr(sys, 'path', list(sys.path))
        runpy.run_path(str(ROOT / 'tools' / 'extract_orp_bank.py'), run_name='__main__')
    assert f'from 2 images; skipped 1 over the pixel limit (e.g. {folder / "huge.png"})' in \
        capsys.readouterr().out
    with safe_open(str(out), framework='pt') as f:
        assert tuple(f.get_slice('features').get_shape())[0] == 2
