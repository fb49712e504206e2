"""rescale_one_cycle: a live one-cycle schedule re-timed to a new length equals a schedule built
for that length, from the current step on; scale_one_cycle scales every group's rates;
set_training_length re-derives a config's budget."""
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OneCycleLR
from mmocr.registry import PARAM_SCHEDULERS

from clip4str_plugin.engine.schedules import (one_cycle_fraction, rescale_one_cycle,
                                              scale_one_cycle, set_one_cycle_fraction,
                                              set_training_length)
from conftest import CONFIGS

LRS = (1e-3, 2e-2)      # two groups with their own maxima (GroupOneCycleLR)


def one_cycle(total, **kwargs):
    optimizer = torch.optim.AdamW([dict(params=[torch.nn.Parameter(torch.zeros(1))], lr=lr)
                                   for lr in LRS])
    return PARAM_SCHEDULERS.build(dict(type='GroupOneCycleLR', total_steps=total,
                                       by_epoch=False, **kwargs),
                                  default_args=dict(optimizer=optimizer))


def lrs(scheduler):
    return [group['lr'] for group in scheduler.optimizer.param_groups]


def run(scheduler, steps):
    """The lr of each group for the next ``steps`` steps (the current one first)."""
    values = []
    for _ in range(steps):
        values.append(lrs(scheduler))
        scheduler.optimizer.step()
        scheduler.step()
    return np.array(values)


def assert_same(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-15)


SHAPES = [dict(pct_start=0.075), dict(pct_start=0.3, three_phase=True),
          dict(pct_start=0.25, anneal_strategy='linear')]


@pytest.mark.parametrize('shape', SHAPES, ids=['two-phase', 'three-phase', 'linear'])
def test_a_fraction_of_the_cycle_is_the_step_there_for_every_group(shape):
    """Time-driven schedules: fraction k / 99 of a 100-step cycle gives step k's learning rates
    (each group its own), whatever step the scheduler had counted; 1 gives the minimum."""
    scheduler, stepped = one_cycle(100, **shape), run(one_cycle(100, **shape), 100)
    run(scheduler, 60)
    for k in (0, 7, 30, 99, 55):
        set_one_cycle_fraction(scheduler, k / 99)
        assert_same(lrs(scheduler), stepped[k])
        assert one_cycle_fraction(scheduler) == pytest.approx(k / 99, rel=1e-12)
    set_one_cycle_fraction(scheduler, 0.5)
    between = np.array(lrs(scheduler))
    assert np.all((between <= np.maximum(stepped[49], stepped[50]))
                  & (between >= np.minimum(stepped[49], stepped[50])))
    set_one_cycle_fraction(scheduler, 1.0)
    assert_same(lrs(scheduler), [lr / 25 / 1e4 for lr in LRS])


@pytest.mark.parametrize('shape', SHAPES, ids=['two-phase', 'three-phase', 'linear'])
def test_a_scaled_schedule_is_the_schedule_of_scaled_maxima(shape):
    """Scaled by 1.5 at step 20, each group goes on as if built with 1.5 x its maximum."""
    scheduler, stepped = one_cycle(100, **shape), run(one_cycle(100, **shape), 100)
    run(scheduler, 20)
    scale_one_cycle(scheduler, 1.5)
    assert_same(run(scheduler, 80), 1.5 * stepped[20:])
    with pytest.raises(ValueError, match='must be positive, got 0'):
        scale_one_cycle(scheduler, 0)


@pytest.mark.parametrize('shape', SHAPES, ids=['two-phase', 'three-phase', 'linear'])
@pytest.mark.parametrize('old,at,new', [(100, 30, 160), (100, 30, 60), (100, 5, 300),
                                        (100, 70, 71)])
def test_rescaled_schedule_is_the_schedule_of_the_new_length(shape, old, at, new):
    scheduler, fresh = one_cycle(old, **shape), one_cycle(new, **shape)
    run(scheduler, at)
    run(fresh, at)
    rescale_one_cycle(scheduler, new)
    assert scheduler.last_step == at and scheduler.total_steps == new
    got, want = run(scheduler, new - at), run(fresh, new - at)
    assert_same(got, want)
    # the annealing ends exactly at the last step: the minimum, max / 25 / 1e4
    assert_same(got[-1], [lr / 25 / 1e4 for lr in LRS])
    assert got[:, 0].min() == pytest.approx(LRS[0] / 25 / 1e4, rel=1e-9)


def test_rescaling_twice_equals_rescaling_once():
    scheduler, fresh = one_cycle(100, pct_start=0.3, three_phase=True), \
        one_cycle(120, pct_start=0.3, three_phase=True)
    run(scheduler, 10)
    rescale_one_cycle(scheduler, 80)
    run(scheduler, 20)
    rescale_one_cycle(scheduler, 120)
    run(fresh, 30)
    assert_same(run(scheduler, 90), run(fresh, 90))


def test_a_scheduler_stopped_at_its_end_carries_on_from_the_loop_position():
    """A resumed scheduler: MMEngine gave it end=100 (the old loop); stepped 100 times it froze
    at the minimum with last_step 99. Stretched to 150, the next step is step 100 of 150."""
    scheduler, fresh = one_cycle(100, pct_start=0.075, end=100), one_cycle(150, pct_start=0.075)
    run(scheduler, 100)
    assert scheduler.last_step == 99 and scheduler._global_step == 100
    assert_same(run(scheduler, 3), [[lr / 25 / 1e4 for lr in LRS]] * 3)   # frozen
    scheduler, fresh = one_cycle(100, pct_start=0.075, end=100), one_cycle(150, pct_start=0.075)
    run(scheduler, 100)
    run(fresh, 100)
    rescale_one_cycle(scheduler, 150)
    assert scheduler.end == 150 and scheduler.last_step == 100
    assert_same(run(scheduler, 50), run(fresh, 50))


def test_mmengine_one_cycle_with_a_begin():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = OneCycleLR(optimizer, eta_max=0.1, total_steps=50, begin=10, end=60,
                           by_epoch=False)
    for _ in range(30):
        optimizer.step()
        scheduler.step()
    rescale_one_cycle(scheduler, 90)
    assert scheduler.end == 100 and scheduler.last_step == 20
    for _ in range(89 - 20):
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]['lr'] == pytest.approx(0.1 / 25 / 1e4)


def test_refused_totals():
    scheduler = one_cycle(100)
    run(scheduler, 40)
    for bad in (40, 10, 0, -5, 50.5, True):
        with pytest.raises(ValueError):
            rescale_one_cycle(scheduler, bad)
    assert scheduler.total_steps == 100 and scheduler.last_step == 40   # unchanged


# ------------------------------------------------------------------ set_training_length

def test_iteration_budget_of_the_demo_config():
    cfg = Config.fromfile(str(CONFIGS / 'clip4str' / 'clip4str-tiny_3k_synth.py'))
    changes = set_training_length(cfg, 'max_iters', 5)
    assert changes == ['train_cfg.max_iters 3000 -> 5', 'train_cfg.val_interval 3000 -> 5',
                       'param_scheduler.0.total_steps 3000 -> 5',
                       'default_hooks.checkpoint.interval 3000 -> 5', 'max_iters 3000 -> 5']
    assert (cfg.train_cfg.max_iters, cfg.train_cfg.val_interval, cfg.max_iters) == (5, 5, 5)
    assert cfg.param_scheduler[0].total_steps == 5
    assert cfg.default_hooks.checkpoint.interval == 5


def test_epoch_budget_of_a_recipe_leaves_per_epoch_intervals():
    cfg = Config.fromfile(str(CONFIGS / 'clip4str' / 'clip4str-b16_7e_mjst.py'))
    changes = set_training_length(cfg, 'max_epochs', 3)
    assert changes == ['train_cfg.max_epochs 7 -> 3', 'param_scheduler.0.total_steps 7 -> 3',
                       'max_epochs 7 -> 3']
    assert cfg.train_cfg.val_interval == 1 and cfg.default_hooks.checkpoint.interval == 1


def test_fields_in_another_unit_or_with_other_values_are_left():
    cfg = Config(dict(
        max_iters=100, train_cfg=dict(type='IterBasedTrainLoop', max_iters=100, val_interval=50),
        param_scheduler=dict(main=[dict(type='PolyLR', end=100, by_epoch=False),
                                   dict(type='LinearLR', end=100)]),   # by_epoch: epochs
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=100))))
    assert set_training_length(cfg, 'max_iters', 40) == [
        'train_cfg.max_iters 100 -> 40', 'param_scheduler.main.0.end 100 -> 40',
        'max_iters 100 -> 40']
    assert cfg.param_scheduler.main[1].end == 100 and cfg.train_cfg.val_interval == 50
    assert cfg.default_hooks.checkpoint.interval == 100


@pytest.mark.parametrize('cfg,name,value,message', [
    (dict(train_cfg=dict(max_epochs=4)), 'max_iters', 5,
     'its loop is counted by train_cfg.max_epochs (4): set max_epochs instead'),
    (dict(model=dict()), 'max_iters', 5, 'the config has no training loop'),
    (dict(train_cfg=dict(max_iters=4)), 'max_iters', 0, 'positive whole number, got 0'),
    (dict(train_cfg=dict(max_iters=4)), 'max_iters', '5', "positive whole number, got '5'"),
])
def test_refused_budgets(cfg, name, value, message):
    with pytest.raises(ValueError, match=message.replace('(', r'\(').replace(')', r'\)')):
        set_training_length(Config(cfg), name, value)
