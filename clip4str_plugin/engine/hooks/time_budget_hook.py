"""A training run bounded by wall-clock time: the learning rate follows the elapsed time, the
iteration count the measured pace.

:class:`TimeBudgetHook` drives every iteration-based one-cycle schedule by the elapsed fraction
of the training time (from the first iteration to the deadline minus ``reserve_s``): after each
iteration the schedule is put at that fraction of its cycle (:func:`~.schedules.
set_one_cycle_fraction`; the cycle's ``total_steps`` only sets its resolution), so the learning
rate rises during the cycle's warm-up share of the time, then anneals once, never going back up
when the pace changes, and the last iteration gets the cycle's end. The loop's length follows
the pace: after ``warmup_iters`` timed iterations, and every ``recheck_s`` seconds, ``max_iters``
is set to the count that fits (with the "at the end" validation and checkpoint intervals); each
iteration, the pace of the last few decides whether the next one is the last. A slower machine
trains fewer steps on the same schedule instead of running over. A resumed run goes on from the
checkpoint's place in the cycle to its end over its own budget. Every choice is logged and, at
the end, written to ``time_budget.json`` in the work dir.

With ``short_run_lr``, a run that fits fewer iterations than a full one (a slower machine)
trains at a higher learning rate: at the first fit the schedules' values are scaled once.
With ``probe_threads`` the warm-up also chooses the torch thread count, and ``reprobe_s`` tries
the others again now and then (:class:`~.thread_probe.ThreadProbeMixin`).
"""
import json
import math
import os.path as osp
import time
from typing import List, Optional, Sequence

import torch
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmengine.optim.scheduler import OneCycleParamScheduler
from mmocr.registry import HOOKS

from clip4str_plugin.engine.schedules import (one_cycle_fraction, scale_one_cycle,
                                              scheduler_entries, set_one_cycle_fraction)
from clip4str_plugin.engine.thread_probe import ThreadProbeMixin

wall_clock = time.time   # the budget's clock (tests replace it)


@HOOKS.register_module()
class TimeBudgetHook(ThreadProbeMixin, Hook):
    """Fit an iteration-based training run into ``budget_s`` seconds of wall-clock time.

    Args:
        budget_s: seconds for the whole run, counted from the hook's creation (the Runner's
            construction), or from ``start_time`` when given.
        warmup_iters: iterations timed before the first fit of the loop's length, counted from
            the run's first iteration (also after a resume; the first ``skip_iters`` of them,
            slow while caches and allocators warm up, are not counted).
        skip_iters: see ``warmup_iters``.
        reserve_s: seconds kept for what follows the last iteration (final validation,
            checkpoint saving).
        recheck_s: seconds between later fits, each on the pace of the iterations since the
            previous one (0: only the end is watched).
        tolerance: relative change of the fitted count below which the loop is left alone.
        min_iters: never fewer iterations in this run (default: ``warmup_iters + 1``).
        start_time: ``time.time()`` at which the budget started (e.g. before data rendering).
        probe_threads: torch thread counts tried in turn during the warm-up (equal shares of
            the timed iterations); the fastest is kept.
        reprobe_s: seconds between later probes of the other thread counts (0: the warm-up's
            choice is kept for the rest of the run).
        short_run_lr: ``dict(full_iters, power, max_scale)``: when the first fit gives N <
            ``full_iters`` iterations, the one-cycle schedules' values are multiplied by
            ``min(max_scale, (full_iters / N) ** power)`` (a fresh run only; None: never).
    """

    priority = 'LOW'   # after ParamSchedulerHook (also LOW, registered first) has stepped
    #: iterations whose mean pace decides, each iteration, whether the next one is the last
    RECENT_ITERS = 5

    def __init__(self, budget_s: float, warmup_iters: int = 50, skip_iters: int = 5,
                 reserve_s: float = 0.0, recheck_s: float = 60.0, tolerance: float = 0.02,
                 min_iters: Optional[int] = None, start_time: Optional[float] = None,
                 probe_threads: Sequence[int] = (), reprobe_s: float = 0.0,
                 short_run_lr: Optional[dict] = None):
        if budget_s <= 0:
            raise ValueError(f'TimeBudgetHook: budget_s must be positive, got {budget_s}')
        if not 0 <= skip_iters < warmup_iters:
            raise ValueError('TimeBudgetHook: need 0 <= skip_iters < warmup_iters, got '
                             f'skip_iters={skip_iters}, warmup_iters={warmup_iters}')
        if short_run_lr is not None and (
                sorted(short_run_lr) != ['full_iters', 'max_scale', 'power']
                or min(short_run_lr.values()) <= 0):
            raise ValueError('TimeBudgetHook: short_run_lr takes positive full_iters, power and '
                             f'max_scale, got {short_run_lr!r}')
        self.budget_s, self.reserve_s = float(budget_s), float(reserve_s)
        self.warmup_iters, self.skip_iters = warmup_iters, skip_iters
        self.recheck_s, self.tolerance = recheck_s, tolerance
        self.min_iters = min_iters or warmup_iters + 1
        self.start_time = start_time if start_time is not None else wall_clock()
        self.deadline = self.start_time + self.budget_s
        self.probe_threads, self.reprobe_s = tuple(probe_threads), reprobe_s
        self.short_run_lr = None if short_run_lr is None else dict(
            full_iters=int(short_run_lr['full_iters']), power=float(short_run_lr['power']),
            max_scale=float(short_run_lr['max_scale']))
        self.lr_scale = 1.0
        self.thread_paces = {}
        self.adjustments: List[dict] = []
        self.reprobes: List[dict] = []
        self._reprobe = None         # the thread probe under way
        self._last_probe = None      # time of the last thread probe
        self._durations: List[float] = []
        self._tick = None
        self._first_iter = 0         # the loop's position at the start of this run
        self._last_check = None      # (time, number of durations) at the last fit
        self._cycles = []            # the one-cycle schedulers driven by the elapsed time
        self._train_start = None     # time of the first iteration: fraction start_fraction
        self.start_fraction = 0.0    # where in its cycle the schedule starts (resumed: > 0)

    # -------------------------------------------------------------------------- the schedule
    def fraction(self, now: float) -> float:
        """The place in the one-cycle schedule at time ``now``: ``start_fraction`` at the first
        iteration, 1 at the deadline minus the reserve, linear in between."""
        span = max(self.deadline - self.reserve_s - self._train_start, 1e-9)
        elapsed = min(1.0, max(0.0, (now - self._train_start) / span))
        return self.start_fraction + (1.0 - self.start_fraction) * elapsed

    def before_train(self, runner) -> None:
        self._tick = self._train_start = now = wall_clock()
        self._first_iter = runner.iter
        loop = runner.train_loop
        self._cycles = []
        for path, scheduler in scheduler_entries(runner.param_schedulers):
            if isinstance(scheduler, OneCycleParamScheduler) and not scheduler.by_epoch:
                self._cycles.append(scheduler)
            elif getattr(scheduler, 'end', None) == loop.max_iters:
                print_log(f'TimeBudgetHook: {path} ({type(scheduler).__name__}) ends at '
                          f'{loop.max_iters} and is not driven by the budget', logger='current',
                          level=30)
        self.start_fraction = one_cycle_fraction(self._cycles[0]) if self._cycles else 0.0
        if loop.max_iters < runner.iter + self.min_iters:     # resumed past the config's end
            self.set_max_iters(runner, runner.iter + self.min_iters)
        print_log(f'TimeBudgetHook: {self.budget_s:.0f} s budget, '
                  f'{self.deadline - self.reserve_s - now:.0f} s left for training (reserve '
                  f'{self.reserve_s:.0f} s); {len(self._cycles)} one-cycle schedule(s) follow '
                  f'the elapsed fraction of it from {self.start_fraction:.3f} of the cycle to its '
                  f'end; max_iters {loop.max_iters} until measured (after {self.warmup_iters} '
                  'iterations)', logger='current')

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        for threads, first, _ in self._probe_slots() if self.probe_threads else ():
            if runner.iter - self._first_iter == first:
                torch.set_num_threads(threads)

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._tick = wall_clock()     # validation time is not an iteration's

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        now = wall_clock()
        self._durations.append(now - self._tick)
        self._tick = now
        done = runner.iter + 1
        if done >= runner.train_loop.max_iters:
            return                                    # the last iteration
        if self._reprobe is not None:
            self._step_reprobe(done)
            if self._reprobe is None:
                self._last_probe = now
                self._last_check = (now, len(self._durations))
        if done - self._first_iter == self.warmup_iters:
            window = (self._choose_threads() if self.probe_threads
                      else self._durations[self.skip_iters:])
            self._fit(runner, done, window, now, due=True, force=True)
            self._scale_short_run(runner)
            self._last_check, self._last_probe = (now, len(self._durations)), now
        elif self._last_check is not None:
            due = self.recheck_s and now - self._last_check[0] >= self.recheck_s
            window = self._durations[self._last_check[1] if due else -self.RECENT_ITERS:]
            self._fit(runner, done, window, now, due=due)
            if due:
                if (self.reprobe_s and len(self.probe_threads) > 1 and self._reprobe is None
                        and window and now - self._last_probe >= self.reprobe_s):
                    self._start_reprobe(sum(window) / len(window))
                self._last_check = (now, len(self._durations))
        last = runner.train_loop.max_iters == done + 1
        for scheduler in self._cycles:                # the coming iteration's place
            set_one_cycle_fraction(scheduler, 1.0 if last else self.fraction(now))

    def after_train(self, runner) -> None:
        """Record the fits and the thread count kept in ``time_budget.json`` of the work dir
        (the main job evaluates with the same thread count)."""
        self._abort_reprobe()
        record = dict(budget_s=self.budget_s, iterations=runner.iter, lr_scale=self.lr_scale,
                      threads=torch.get_num_threads(), thread_paces=self.thread_paces,
                      adjustments=self.adjustments, reprobes=self.reprobes)
        with open(osp.join(runner.work_dir, 'time_budget.json'), 'w') as f:
            json.dump(record, f, indent=1)

    def _scale_short_run(self, runner) -> None:
        """``short_run_lr``: scale the schedules of a fresh run that fits few iterations."""
        iters = runner.train_loop.max_iters - self._first_iter
        rule = self.short_run_lr
        if rule is None or self.start_fraction > 0 or iters >= rule['full_iters']:
            return
        self.lr_scale = min(rule['max_scale'], (rule['full_iters'] / iters) ** rule['power'])
        for scheduler in self._cycles:
            scale_one_cycle(scheduler, self.lr_scale)
        print_log(f'TimeBudgetHook: {iters} iterations fit, fewer than a full run\'s '
                  f'{rule["full_iters"]}: learning rates x{self.lr_scale:.2f}', logger='current')

    # ---------------------------------------------------------------------- the loop's length
    def projected_iters(self, done: int, seconds_per_iter: float, now: float) -> int:
        """Iterations in all that fit before the deadline (minus the reserve); at least one
        more, so that the last iteration gets the schedule's end."""
        left = self.deadline - self.reserve_s - now
        return max(self._first_iter + self.min_iters, done + 1,
                   done + int(math.floor(left / seconds_per_iter)))

    def _fit(self, runner, done: int, window: List[float], now: float, due: bool,
             force: bool = False) -> None:
        """Set the loop's length from the pace of ``window``: when ``due``, if it moved by more
        than the tolerance; otherwise only when the next iteration is the last, or would be
        too early."""
        if not window:
            return
        pace = sum(window) / len(window)
        old = runner.train_loop.max_iters
        new = self.projected_iters(done, pace, now)
        near_end = min(old, new) == done + 1
        if new == old or not (force or near_end
                              or due and abs(new - old) > self.tolerance * old):
            return
        self.set_max_iters(runner, new)
        record = dict(iter=done, seconds_per_iter=pace, old_max_iters=old, max_iters=new,
                      seconds_left=self.deadline - now)
        self.adjustments.append(record)
        print_log(f'TimeBudgetHook: at iteration {done}, {pace:.3f} s per iteration and '
                  f'{record["seconds_left"]:.0f} s left (reserve {self.reserve_s:.0f} s): '
                  f'max_iters {old} -> {new} (the learning rate follows the elapsed time, '
                  f'at {self.fraction(now):.3f} of its cycle)', logger='current')

    @staticmethod
    def set_max_iters(runner, new: int) -> None:
        """Give the running loop ``new`` iterations: its length, and a validation or checkpoint
        interval that meant 'at the end' (equal to the old length)."""
        loop = runner.train_loop
        old = loop.max_iters
        loop._max_iters = int(new)
        if getattr(loop, 'val_interval', None) == old:
            loop.val_interval = int(new)
        for hook in runner.hooks:
            if isinstance(hook, CheckpointHook) and hook.interval == old:
                hook.interval = int(new)
