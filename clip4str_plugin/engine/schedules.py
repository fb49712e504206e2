"""How long training runs: a live one-cycle schedule given a new length or a position in its
cycle, a config given a new iteration or epoch budget.

:func:`rescale_one_cycle` re-times a built (and possibly resumed) MMEngine one-cycle scheduler;
:func:`set_one_cycle_fraction` puts one at a fraction of its cycle (a time-driven schedule),
:func:`scale_one_cycle` scales its learning rates;
:func:`set_training_length` re-derives, in a parsed config, the fields that a top-level
``max_iters`` / ``max_epochs`` variable fed while the file was read.
"""
from typing import Iterator, List, Tuple

from mmengine.config import Config
from mmengine.optim.scheduler import OneCycleParamScheduler
from mmengine.optim.scheduler.param_scheduler import INF

LENGTH_NAMES = ('max_iters', 'max_epochs')


def rescale_one_cycle(scheduler: OneCycleParamScheduler, total_steps: int) -> None:
    """Make a two- or three-phase one-cycle scheduler anneal over ``total_steps`` steps.

    The schedule becomes the one the scheduler would have had if built with ``total_steps``
    (same warm-up share, phases and learning-rate bounds), so the annealing ends exactly at step
    ``total_steps - 1``: the last iteration of a loop of ``begin + total_steps`` iterations (or
    epochs). The current step is kept (the loop's position: a scheduler that stopped at its
    ``end`` carries on from where the loop is), the learning rate of the coming step is set from
    the new schedule, and a finite ``end`` moves to ``begin + total_steps``.

    Raises ValueError for a total that is not a positive whole number or that the scheduler has
    already reached, and for a scheduler whose phases are not one-cycle's.
    """
    if isinstance(total_steps, bool) or int(total_steps) != total_steps or total_steps <= 0:
        raise ValueError(f'total_steps must be a positive whole number, got {total_steps!r}')
    total_steps = int(total_steps)
    phases = scheduler._schedule_phases
    if len(phases) not in (2, 3):
        raise ValueError(f'{type(scheduler).__name__} has {len(phases)} phases; a one-cycle '
                         'schedule has 2 or 3')
    # the position in the loop: last_step stops counting once ``end`` is reached
    position = scheduler._global_step - scheduler.begin
    if position >= total_steps:
        raise ValueError(f'{type(scheduler).__name__} is at step {position}; it cannot end '
                         f'after {total_steps} steps')
    pct_start = (phases[0]['end_step'] + 1) / scheduler.total_steps
    scheduler.total_steps = total_steps
    phases[0]['end_step'] = float(pct_start * total_steps) - 1
    if len(phases) == 3:
        phases[1]['end_step'] = float(2 * pct_start * total_steps) - 2
    phases[-1]['end_step'] = total_steps - 1
    if scheduler.end != INF:
        scheduler.end = scheduler.begin + total_steps
    if position >= 0:      # started: the coming step's value from the new schedule
        _apply_step(scheduler, position)


def _apply_step(scheduler: OneCycleParamScheduler, step: float) -> None:
    """Put the scheduler at ``step`` of its cycle and give every group that step's value."""
    scheduler.last_step = step
    values = scheduler._get_value()
    for group, value in zip(scheduler.optimizer.param_groups, values):
        group[scheduler.param_name] = value
    scheduler._last_value = list(values)


def one_cycle_fraction(scheduler: OneCycleParamScheduler) -> float:
    """How far the cycle has gone, 0 (its first step) to 1 (its last, the minimum)."""
    return min(1.0, max(0.0, scheduler.last_step / max(1, scheduler.total_steps - 1)))


def set_one_cycle_fraction(scheduler: OneCycleParamScheduler, fraction: float) -> None:
    """Put a one-cycle scheduler at ``fraction`` (0 to 1) of its cycle, between steps where it
    falls, and set its groups' values from there: a schedule driven by elapsed time rather than
    by the step count (the count of steps in the cycle only sets the resolution)."""
    _apply_step(scheduler, fraction * max(1, scheduler.total_steps - 1))


def scale_one_cycle(scheduler: OneCycleParamScheduler, factor: float) -> None:
    """Multiply a one-cycle scheduler's start, peak and end values by ``factor`` in every group
    (their ratios kept) and give the groups the scaled value of the current step."""
    if not factor > 0:
        raise ValueError(f'the scale of a one-cycle schedule must be positive, got {factor!r}')
    name = scheduler.param_name
    for group in scheduler.optimizer.param_groups:
        for key in (f'initial_{name}', f'max_{name}', f'min_{name}'):
            group[key] *= factor
    _apply_step(scheduler, scheduler.last_step)


def scheduler_entries(schedulers) -> Iterator[Tuple[str, object]]:
    """``(path, scheduler)`` for a scheduler list, a single one, or a dict of lists (one per
    optimizer), as config paths: ``param_scheduler.0``, ``param_scheduler.name.0``."""
    if not schedulers:
        return
    if isinstance(schedulers, dict) and 'type' not in schedulers:
        for name, group in schedulers.items():
            for path, scheduler in scheduler_entries(group):
                yield path.replace('param_scheduler', f'param_scheduler.{name}', 1), scheduler
    elif isinstance(schedulers, (list, tuple)):
        for index, scheduler in enumerate(schedulers):
            yield f'param_scheduler.{index}', scheduler
    else:
        yield 'param_scheduler', schedulers


def set_training_length(cfg: Config, name: str, value: int) -> List[str]:
    """Give ``cfg`` a loop of ``value`` iterations (``name='max_iters'``) or epochs
    (``'max_epochs'``), as if the config file's top-level ``name`` had been ``value`` when it was
    parsed: the loop's length, and the fields in the same unit that equalled the old length
    (``train_cfg.val_interval``, every scheduler's ``total_steps`` and ``end``,
    ``default_hooks.checkpoint.interval``) and the top-level variable itself, take the new value.

    Returns the changes as ``'path old -> new'``. Raises ValueError when ``value`` is not a
    positive whole number or the config's loop is not counted in ``name``.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f'{name} must be a positive whole number, got {value!r}')
    train_cfg = cfg.get('train_cfg')
    if not train_cfg:
        raise ValueError('the config has no training loop (train_cfg)')
    if name not in train_cfg:
        other = [key for key in LENGTH_NAMES if key in train_cfg]
        raise ValueError(f'its loop is counted by train_cfg.{other[0]} '
                         f'({train_cfg[other[0]]}): set {other[0]} instead' if other else
                         f'its loop ({train_cfg.get("type")}) has no {name}')
    old, by_epoch = train_cfg[name], name == 'max_epochs'
    changes = []

    def update(container, key: str, path: str, always: bool = False) -> None:
        if key in container and (always or container[key] == old) and container[key] != value:
            changes.append(f'{path} {container[key]} -> {value}')
            container[key] = value

    update(train_cfg, name, f'train_cfg.{name}')
    update(train_cfg, 'val_interval', 'train_cfg.val_interval')
    for path, scheduler in scheduler_entries(cfg.get('param_scheduler')):
        if scheduler.get('by_epoch', True) == by_epoch:
            update(scheduler, 'total_steps', f'{path}.total_steps')
            update(scheduler, 'end', f'{path}.end')
    checkpoint = (cfg.get('default_hooks') or {}).get('checkpoint')
    if checkpoint and checkpoint.get('by_epoch', True) == by_epoch:
        update(checkpoint, 'interval', 'default_hooks.checkpoint.interval')
    update(cfg, name, name, always=True)
    return changes
