"""The shipped DPTR configs wire the pre-training hooks as documented; ORPBankHook without bank
or images says what to give; DecoderTransferHook's freezing holds under DDP (a one-process gloo
group), with and without find_unused_parameters."""
import logging
from types import SimpleNamespace

import pytest
import torch
import torch.distributed as dist
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import OptimWrapper
from torch import nn

from clip4str_plugin.engine.hooks import DecoderTransferHook, ORPBankHook
from clip4str_plugin.orp_bank_file import ORPBankError
from conftest import CONFIGS, build_model, load_config

PRETRAIN = {'dptr_pretrain_tiny_synth.py': 128, 'dptr_pretrain_clip-b16_art.py': 512,
            'dptr_pretrain_clip4str-b16-decoder_art.py': 512,
            'dptr_pretrain_tiny_synth-broad.py': 128}
FINETUNE = {'dptr/dptr_finetune_vit-tiny_synth.py': 'dptr_pretrain_tiny_synth',
            'dptr/dptr_finetune_vit-4x8_20e_real.py': 'dptr_pretrain_clip-b16_art',
            'clip4str/clip4str-b16_dptr-init_16e_real.py': 'dptr_pretrain_clip4str-b16-decoder_art',
            'dptr/dptr_finetune_vit-tiny_synth-broad.py': 'dptr_pretrain_tiny_synth-broad'}


@pytest.mark.parametrize('name', sorted(PRETRAIN))
def test_pretraining_configs_build_their_bank_and_save_the_decoder(name, monkeypatch):
    monkeypatch.delenv('ORP_IMAGES', raising=False)
    cfg = load_config(CONFIGS / 'dptr' / name)
    bank, save = cfg.custom_hooks[0], cfg.custom_hooks[1]
    assert bank.type == 'ORPBankHook' and save.type == 'SaveDecoderHook'
    assert bank.images == ('data/orp/broad_scenes' if 'broad' in name else
                           'data/orp/natural_images')
    tower, text = bank.tower, cfg.model.backbone
    assert tower.type == 'CLIPVisionBackbone'
    assert tower.embed_dim == text.embed_dim == PRETRAIN[name]       # the memory's width D
    assert tower.get('pretrained') == text.pretrained                 # one CLIP for both towers
    assert 'ScheduleCheckHook' in [h.type for h in cfg.custom_hooks]


@pytest.mark.parametrize('name', sorted(FINETUNE))
def test_finetuning_configs_start_from_the_pretraining_decoder_file(name, monkeypatch):
    monkeypatch.delenv('DPTR_DECODER', raising=False)
    cfg = load_config(CONFIGS / name)
    transfer = cfg.custom_hooks[0]
    assert transfer.type == 'DecoderTransferHook'
    assert transfer.checkpoint == f'work_dirs/{FINETUNE[name]}/decoder_pretrained.safetensors'
    # the only decoder start: custom_hooks.0.checkpoint=None is then a random-decoder run
    assert [h.type for h in cfg.custom_hooks].count('DecoderTransferHook') == 1
    assert 'TimeBudgetHook' not in [h.type for h in cfg.custom_hooks]
    assert 'pretrained' not in cfg.model.decoder
    pre = load_config(CONFIGS / 'dptr' / f'{FINETUNE[name]}.py').model.decoder.decoder
    assert {k: cfg.model.decoder.decoder[k] for k in ('embed_dim', 'depth')} == \
        {k: pre[k] for k in ('embed_dim', 'depth')}                   # the same geometry


def test_broad_job_decoders_start_from_the_shipped_dptr_decoder(monkeypatch):
    """clip4str-tiny_20min_synth-broad.py: both networks from assets/dptr (every tensor loaded, the
    pre-training's geometry); DPTR_DECODER=none keeps them random."""
    from clip4str_plugin.models.parseq.transfer import transfer_decoder
    monkeypatch.delenv('DPTR_DECODER', raising=False)
    cfg = load_config(CONFIGS / 'clip4str' / 'clip4str-tiny_20min_synth-broad.py')
    transfer = cfg.custom_hooks[1]
    assert transfer.type == 'DecoderTransferHook'
    assert transfer.checkpoint.endswith('assets/dptr/dptr_decoder_tiny_broad.safetensors')
    pre = load_config(CONFIGS / 'dptr' / 'dptr_pretrain_tiny_synth-broad.py').model.decoder.decoder
    assert {k: cfg.model.decoder.decoder[k] for k in ('embed_dim', 'depth', 'num_heads')} == \
        {k: pre[k] for k in ('embed_dim', 'depth', 'num_heads')}
    decoder = build_model(cfg.model).decoder
    networks = {f'decoder.{n}': net for n, net in decoder.networks().items()}
    rows, where = transfer_decoder(networks, transfer.checkpoint, '', decoder.dictionary.dict)
    assert len(networks) == 2 and where == 'the decoder file'
    assert rows and all(status == 'loaded' for _, _, status in rows)
    assert torch.equal(networks['decoder.visual_decoder'].head.weight,
                       networks['decoder.cross_decoder'].head.weight)
    monkeypatch.setenv('DPTR_DECODER', 'none')
    broad = CONFIGS / 'clip4str' / 'clip4str-tiny_20min_synth-broad.py'
    assert load_config(broad).custom_hooks[1] \
        .checkpoint is None


def test_no_bank_and_no_images_says_what_to_give(tmp_path, monkeypatch):
    monkeypatch.setenv('ORP_BANK', str(tmp_path / 'bank.safetensors'))
    cfg = load_config(CONFIGS / 'dptr' / 'dptr_pretrain_tiny_synth.py')
    cfg.model.backbone.layers = 1
    hook = ORPBankHook(images=str(tmp_path / 'none'), tower=cfg.custom_hooks[0].tower)
    runner = SimpleNamespace(model=build_model(cfg.model), logger=logging.getLogger('bank'),
                             train_loop=SimpleNamespace(dataloader=SimpleNamespace(batch_size=2)))
    with pytest.raises(ORPBankError) as refused:
        hook.before_train(runner)
    assert str(refused.value) == (
        f'ORP image folder not found: {tmp_path / "none"}: the ORP bank '
        f'{tmp_path / "bank.safetensors"} is missing and ORPBankHook builds it from that '
        'folder; give a folder of natural images (ORP_IMAGES=... in the DPTR configs, or '
        '--cfg-options custom_hooks.0.images=...) or an existing bank')
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- freezing under DDP

class TwoParts(nn.Module):
    """A 'decoder' with one network, and a part that keeps training."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.backbone = nn.Linear(4, 4)
        self.decoder = nn.Module()
        self.decoder.decoder = nn.Linear(4, 2)
        self.decoder.networks = lambda: {'decoder': self.decoder.decoder}

    def forward(self, x):
        return self.decoder.decoder(self.backbone(x)).square().sum()


@pytest.fixture
def process_group(tmp_path):
    dist.init_process_group('gloo', init_method=f'file://{tmp_path / "pg"}', rank=0,
                            world_size=1)
    yield
    dist.destroy_process_group()


@pytest.mark.parametrize('find_unused', [False, True])
def test_frozen_networks_stay_unchanged_under_ddp(process_group, find_unused):
    model = TwoParts()
    ddp = MMDistributedDataParallel(model, find_unused_parameters=find_unused)
    optim = OptimWrapper(torch.optim.AdamW(ddp.parameters(), lr=0.1, weight_decay=0.5))
    messages = []
    logger = logging.getLogger(f'freeze-{find_unused}')
    logger.info = messages.append
    runner = SimpleNamespace(model=ddp, optim_wrapper=optim, logger=logger, iter=0)
    hook = DecoderTransferHook(checkpoint=None, freeze_iters=2)
    frozen = model.decoder.decoder.weight
    start, backbone = frozen.detach().clone(), model.backbone.weight.detach().clone()
    hook._freeze(runner, hook._networks(runner))
    assert frozen.requires_grad is not find_unused     # off only where DDP allows it
    assert messages[-1].endswith(
        '(requires_grad off; the optimiser skips them)' if find_unused else
        '(gradients computed and all-reduced under DDP, dropped before each step; the '
        'optimiser skips them)')
    x = torch.randn(3, 4)
    for runner.iter in range(4):
        hook.before_train_iter(runner, runner.iter)
        optim.update_params(ddp(x))
        if runner.iter < 2:                            # frozen: no update, no decay, no state
            assert torch.equal(frozen, start) and frozen not in optim.optimizer.state
            assert not torch.equal(model.backbone.weight, backbone)
    assert messages[-1] == 'DecoderTransferHook: decoder networks released at iteration 2'
    assert frozen.requires_grad and not torch.equal(frozen, start)
    assert frozen in optim.optimizer.state
