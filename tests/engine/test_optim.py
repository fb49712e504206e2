"""The reference's four parameter groups and the per-group one-cycle schedule."""
import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmocr.registry import PARAM_SCHEDULERS

from conftest import tiny_model


@pytest.fixture
def wrapper():
    model = tiny_model()
    cfg = dict(type='OptimWrapper',
               optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.98), eps=1e-6,
                              weight_decay=0.2),
               constructor='CLIP4STROptimWrapperConstructor',
               paramwise_cfg=dict(decoder_lr_mult=19.0, decoder_decay_mult=1.0))
    return model, build_optim_wrapper(model, cfg)


def test_groups(wrapper):
    model, optim = wrapper
    groups = {g['name']: g for g in optim.optimizer.param_groups}
    assert [g['name'] for g in optim.optimizer.param_groups] == \
        ['clip_no_decay', 'clip_decay', 'new_no_decay', 'new_decay']
    assert (groups['clip_decay']['lr'], groups['clip_decay']['weight_decay']) == (1e-4, 0.2)
    assert groups['clip_no_decay']['weight_decay'] == 0.0
    assert groups['new_decay']['lr'] == pytest.approx(1.9e-3)
    assert groups['new_no_decay']['weight_decay'] == 0.0
    named = dict(model.named_parameters())
    where = {name: g['name'] for g in optim.optimizer.param_groups for p in g['params']
             for name, q in named.items() if q is p}
    assert where['backbone.visual.positional_embedding'] == 'clip_decay'   # 2-D: decays
    assert where['backbone.visual.proj'] == 'clip_decay'
    assert where['backbone.visual.class_embedding'] == 'clip_no_decay'
    assert where['backbone.visual.ln_post.weight'] == 'clip_no_decay'
    assert where['decoder.text_encoder.text.text_projection'] == 'clip_decay'
    assert where['decoder.visual_decoder.pos_queries'] == 'new_no_decay'
    assert where['decoder.cross_decoder.text_embed.embedding.weight'] == 'new_no_decay'
    assert where['decoder.cross_decoder.layers.0.self_attn.in_proj_bias'] == 'new_no_decay'
    assert where['decoder.visual_decoder.head.weight'] == 'new_decay'
    assert 'decoder.text_encoder.text.token_embedding.weight' not in where     # frozen
    assert len(where) == sum(p.requires_grad for p in model.parameters())


def test_one_cycle_keeps_the_decoder_multiplier(wrapper):
    _, optim = wrapper
    scheduler = PARAM_SCHEDULERS.build(dict(type='GroupOneCycleLR', total_steps=100,
                                            pct_start=0.075, by_epoch=False),
                                       default_args=dict(optimizer=optim))
    lrs = [g['lr'] for g in optim.optimizer.param_groups]
    assert lrs[0] == pytest.approx(1e-4 / 25) and lrs[3] == pytest.approx(1.9e-3 / 25)
    for _ in range(8):       # end of the 7.5 % warm-up: the configured maxima
        optim.optimizer.step()
        scheduler.step()
    lrs = [g['lr'] for g in optim.optimizer.param_groups]
    assert lrs[0] == pytest.approx(1e-4, rel=0.02) and lrs[3] == pytest.approx(1.9e-3, rel=0.02)
    assert torch.isfinite(torch.tensor(lrs)).all()


def test_clip4str_schedule_builds_a_fused_adamw_with_the_loop_update():
    """The schedule base's optimiser, built by the constructor as the Runner does, is torch's
    fused AdamW (CPU here), and its steps equal the per-tensor loop's."""
    import copy

    from conftest import CONFIGS, load_config
    cfg = load_config(CONFIGS / '_base_' / 'schedules' / 'clip4str_adamw_onecycle.py')
    assert cfg.optim_wrapper.optimizer.fused is True
    model = tiny_model()
    twin = copy.deepcopy(model)
    fused = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    loop_cfg = copy.deepcopy(cfg.optim_wrapper)
    loop_cfg.optimizer.update(fused=False, foreach=False)
    loop = build_optim_wrapper(twin, loop_cfg)
    assert fused.optimizer.defaults['fused'] is True and not loop.optimizer.defaults['fused']
    assert [len(g['params']) for g in fused.optimizer.param_groups] == \
        [len(g['params']) for g in loop.optimizer.param_groups]
    torch.manual_seed(0)
    trained = [(p, q) for p, q in zip(model.parameters(), twin.parameters()) if p.requires_grad]
    initial = [p.detach().clone() for p, _ in trained]
    for _ in range(3):
        for p, q in trained:
            p.grad = torch.randn_like(p)
            q.grad = p.grad.clone()
        fused.step()
        loop.step()
    assert max((p - q).abs().max().item() for p, q in trained) < 1e-6
    assert all((p - start).abs().max() > 0 for (p, _), start in zip(trained, initial))
