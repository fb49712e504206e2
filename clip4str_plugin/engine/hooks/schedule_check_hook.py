"""A run whose one-cycle learning-rate schedule does not end with the loop is refused (or, on
request, re-timed) before its first iteration."""
from typing import Tuple

from mmengine.hooks import Hook
from mmengine.optim.scheduler import OneCycleParamScheduler
from mmengine.runner import EpochBasedTrainLoop
from mmocr.registry import HOOKS

from clip4str_plugin.engine.schedules import rescale_one_cycle, scheduler_entries


class ScheduleError(SystemExit):
    """A refused schedule: ends the program with its one-line message (no traceback) unless
    caught."""


def _loop_end(runner, by_epoch: bool, now: bool) -> Tuple[int, str, str]:
    """The loop's length in the scheduler's unit, the setting that holds it, and a phrase for
    messages (``'max_iters is now 500'``)."""
    loop = runner.train_loop
    knob = 'max_epochs' if isinstance(loop, EpochBasedTrainLoop) else 'max_iters'
    is_ = 'is now' if now else 'is'
    if by_epoch:
        return loop.max_epochs, knob, f'max_epochs {is_} {loop.max_epochs}'
    if knob == 'max_iters':
        return loop.max_iters, knob, f'max_iters {is_} {loop.max_iters}'
    return loop.max_iters, knob, (f'the loop {"now " if now else ""}ends at iteration '
                                  f'{loop.max_iters} ({loop.max_epochs} epochs of '
                                  f'{loop.max_iters // loop.max_epochs} iterations)')


@HOOKS.register_module()
class ScheduleCheckHook(Hook):
    """Every one-cycle scheduler must end exactly at the loop's last iteration (or epoch, when
    stepped by epoch): ``begin + total_steps`` equal to the loop's length and no ``end`` before
    it. Otherwise its learning rate would freeze at ``end`` (a resumed scheduler keeps the
    checkpoint's ``total_steps`` and ``end``), crash past ``total_steps``, or never anneal.

    Checked in ``before_train``, after resuming. A fresh run is refused (:class:`ScheduleError`);
    so is a resumed one whose loop length changed since the checkpoint, unless the config has
    ``resume_rescale=True``: the schedule is then re-timed to the new length from the current
    step (:func:`rescale_one_cycle`) and the change logged. A scheduler whose position differs
    from the loop's (a checkpoint without scheduler state) is refused too.
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        for path, scheduler in scheduler_entries(runner.param_schedulers):
            if isinstance(scheduler, OneCycleParamScheduler):
                self._check(runner, path, scheduler)

    @staticmethod
    def _check(runner, path: str, scheduler: OneCycleParamScheduler) -> None:
        by_epoch = scheduler.by_epoch
        unit = 'epoch' if by_epoch else 'iteration'
        done = runner.epoch if by_epoch else runner.iter
        length, knob, loop_end = _loop_end(runner, by_epoch, now=done > 0)
        name = f'{path} ({type(scheduler).__name__})'
        if scheduler._global_step != done:
            raise ScheduleError(
                f'{name} is at step {scheduler._global_step} but the run is at {unit} {done}: '
                'resume from a checkpoint saved with its scheduler state')
        cycle_end = scheduler.begin + scheduler.total_steps
        if (cycle_end == length and scheduler.end >= length) or done >= length:
            return
        schedule_end = cycle_end if cycle_end != length else scheduler.end   # what is wrong
        if done == 0:
            raise ScheduleError(
                f'{name} anneals until {unit} {schedule_end} but {loop_end}: make its '
                f'total_steps span the loop (--cfg-options {knob}=N sets both)')
        if not runner.cfg.get('resume_rescale', False):
            raise ScheduleError(
                f"the checkpoint's one-cycle schedule, {name}, ends at {unit} {schedule_end}; "
                f'{loop_end}: resume with the original {knob}, or '
                'pass --cfg-options resume_rescale=True to stretch the remaining schedule')
        before = scheduler.get_last_value()[0]
        rescale_one_cycle(scheduler, length - scheduler.begin)
        runner.logger.info(
            f'resume_rescale: {name} re-timed from {schedule_end} to {length} {unit}s at {unit} '
            f'{done} (same warm-up share; the annealing ends at the last {unit}); lr of the next '
            f'{unit} {before:.4g} -> {scheduler.get_last_value()[0]:.4g}')
