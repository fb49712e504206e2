"""A training run bounded by wall-clock time: the iteration count is set from measured speed.

:class:`TimeBudgetHook` lets an iteration-based run start with the config's ``max_iters`` (an
upper bound, which :class:`ScheduleCheckHook` checks against the one-cycle schedule before the
first iteration), times the first ``warmup_iters`` iterations, then sets the number of
iterations that fits the budget: the loop's length, the "at the end" validation and checkpoint
intervals and every one-cycle schedule (:func:`~.schedules.rescale_one_cycle`: same warm-up
share, the annealing ending at the new last iteration, ``end`` moved along) change together, so
the schedule still ends with the loop. It checks the pace again every ``recheck_s`` seconds
(other processes slow the machine down, or stop doing so) and adjusts again when the projected
count moves by more than ``tolerance``. Every change is logged and, at the end, written to
``time_budget.json`` in the work dir. A slower machine trains fewer steps instead of running
over.

With ``probe_threads=(2, 1)`` the warm-up is split between torch thread counts and the faster
one is kept: on a machine shared with other processes, OpenMP threads that wait for each other
can make two threads slower than one. With ``reprobe_s`` the other counts are tried again every
``reprobe_s`` seconds for a few iterations (an attempt ends after its first timed iteration when
that one is much slower), so a choice made while another process was busy does not last the run.
"""
import json
import math
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmengine.optim.scheduler import OneCycleParamScheduler
from mmocr.registry import HOOKS

from .schedules import rescale_one_cycle, scheduler_entries


@HOOKS.register_module()
class TimeBudgetHook(Hook):
    """Fit an iteration-based training run into ``budget_s`` seconds of wall-clock time.

    Args:
        budget_s: seconds for the whole run, counted from the hook's creation (the Runner's
            construction), or from ``start_time`` when given.
        warmup_iters: iterations timed before the first adjustment, counted from the run's
            first iteration (also after a resume; the first ``skip_iters`` of them, slow while
            caches and allocators warm up, are not counted).
        skip_iters: see ``warmup_iters``.
        reserve_s: seconds kept for what follows the last iteration (final validation,
            checkpoint saving).
        recheck_s: seconds between later checks, each on the pace of the iterations since the
            previous one (0: adjust once).
        tolerance: relative change of the projected count below which nothing is changed.
        min_iters: never fewer iterations in this run (default: ``warmup_iters + 1``).
        start_time: ``time.time()`` at which the budget started (e.g. before data rendering).
        probe_threads: torch thread counts tried in turn during the warm-up (equal shares of
            the timed iterations); the fastest is kept.
        reprobe_s: seconds between later probes of the other thread counts (0: the warm-up's
            choice is kept for the rest of the run).
    """

    priority = 'LOW'   # after ParamSchedulerHook (also LOW, registered first) has stepped

    def __init__(self, budget_s: float, warmup_iters: int = 50, skip_iters: int = 5,
                 reserve_s: float = 0.0, recheck_s: float = 60.0, tolerance: float = 0.02,
                 min_iters: Optional[int] = None, start_time: Optional[float] = None,
                 probe_threads: Sequence[int] = (), reprobe_s: float = 0.0):
        if budget_s <= 0:
            raise ValueError(f'TimeBudgetHook: budget_s must be positive, got {budget_s}')
        if not 0 <= skip_iters < warmup_iters:
            raise ValueError('TimeBudgetHook: need 0 <= skip_iters < warmup_iters, got '
                             f'skip_iters={skip_iters}, warmup_iters={warmup_iters}')
        self.budget_s, self.reserve_s = float(budget_s), float(reserve_s)
        self.warmup_iters, self.skip_iters = warmup_iters, skip_iters
        self.recheck_s, self.tolerance = recheck_s, tolerance
        self.min_iters = min_iters or warmup_iters + 1
        self.start_time = start_time if start_time is not None else time.time()
        self.deadline = self.start_time + self.budget_s
        self.probe_threads, self.reprobe_s = tuple(probe_threads), reprobe_s
        self.thread_paces = {}
        self.adjustments: List[dict] = []
        self.reprobes: List[dict] = []
        self._reprobe = None         # the probe under way: kept count and pace, counts left
        self._last_probe = None      # time of the last probe
        self._durations: List[float] = []
        self._tick = None
        self._first_iter = 0         # the loop's position at the start of this run
        self._last_check = None      # (time, number of durations) at the last adjustment

    # ------------------------------------------------------------------------------ timing
    def _probe_slots(self):
        """(thread count, first iteration, end iteration) of each probe phase."""
        timed = self.warmup_iters - self.skip_iters
        share = timed // len(self.probe_threads)
        return [(n, self.skip_iters + i * share,
                 self.skip_iters + (i + 1) * share if i + 1 < len(self.probe_threads)
                 else self.warmup_iters) for i, n in enumerate(self.probe_threads)]

    def _choose_threads(self) -> List[float]:
        """Keep the fastest thread count; returns its timed iterations."""
        windows = {}
        for threads, first, end in self._probe_slots():
            windows[threads] = self._durations[first + 1:end]   # the first pays the switch
            if windows[threads]:
                self.thread_paces[threads] = sum(windows[threads]) / len(windows[threads])
        best = self._keep_fastest(self.thread_paces, 'seconds per iteration by torch thread '
                                  'count')
        return windows[best]

    @staticmethod
    def _keep_fastest(paces: Dict[int, float], what: str) -> int:
        """Set and log the thread count of ``paces`` (count -> s per iteration) that is fastest."""
        best = min(paces, key=paces.get)
        torch.set_num_threads(best)
        print_log(f'TimeBudgetHook: {what}: '
                  + ', '.join(f'{n}: {p:.3f}' for n, p in paces.items())
                  + f' s; keeping {best}', logger='current')
        return best

    def before_train(self, runner) -> None:
        self._tick = time.perf_counter()
        self._first_iter = runner.iter
        print_log(f'TimeBudgetHook: {self.budget_s:.0f} s budget, '
                  f'{self.deadline - time.time():.0f} s left at the start of training; '
                  f'max_iters {runner.train_loop.max_iters} until measured '
                  f'(after {self.warmup_iters} iterations)', logger='current')

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        for threads, first, _ in self._probe_slots() if self.probe_threads else ():
            if runner.iter - self._first_iter == first:
                torch.set_num_threads(threads)

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._tick = time.perf_counter()     # validation time is not an iteration's

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        now = time.perf_counter()
        if self._tick is not None:
            self._durations.append(now - self._tick)
        self._tick = now
        done = runner.iter + 1
        if self._reprobe is not None:
            self._step_reprobe(done)
            return
        if done - self._first_iter == self.warmup_iters:
            window = (self._choose_threads() if self.probe_threads
                      else self._durations[self.skip_iters:])
            self._adjust(runner, done, window, force=True)
            self._last_probe = time.time()
        elif (self.recheck_s and self._last_check is not None
              and time.time() - self._last_check[0] >= self.recheck_s):
            window = self._durations[self._last_check[1]:]
            self._adjust(runner, done, window)
            if (self.reprobe_s and len(self.probe_threads) > 1 and window
                    and time.time() - self._last_probe >= self.reprobe_s):
                self._start_reprobe(sum(window) / len(window))
        else:
            return
        self._last_check = (time.time(), len(self._durations))

    # ---------------------------------------------------------------------------- re-probing
    #: timed iterations per thread count in a re-probe (after one that pays the switch)
    REPROBE_ITERS = 3

    def _start_reprobe(self, kept_pace: float) -> None:
        kept = torch.get_num_threads()
        self._reprobe = dict(kept=kept, paces={kept: kept_pace}, times=[],
                             left=[n for n in self.probe_threads if n != kept])
        self._next_count()

    def _next_count(self) -> None:
        probe = self._reprobe
        if probe['left']:
            probe['current'] = probe['left'].pop(0)
            probe['times'] = []
            torch.set_num_threads(probe['current'])
        else:
            self._end_reprobe()

    def _step_reprobe(self, done: int) -> None:
        """One iteration of the probe under way (its duration is the last one recorded)."""
        probe = self._reprobe
        probe['times'].append(self._durations[-1])
        timed = probe['times'][1:]                     # the first pays the switch
        if timed and (len(timed) >= self.REPROBE_ITERS
                      or timed[-1] > 1.5 * probe['paces'][probe['kept']]):
            probe['paces'][probe['current']] = sum(timed) / len(timed)
            probe['done'] = done
            self._next_count()

    def _end_reprobe(self) -> None:
        probe, self._reprobe = self._reprobe, None
        best = self._keep_fastest(probe['paces'], 'thread counts probed again at iteration '
                                  f'{probe.get("done")}, seconds per iteration')
        self.thread_paces.update(probe['paces'])
        self.reprobes.append(dict(iter=probe.get('done'), seconds_per_iter=probe['paces'],
                                  threads=best))
        self._last_probe = time.time()
        # the next pace check starts after the probe's iterations
        self._last_check = (time.time(), len(self._durations))

    def after_train(self, runner) -> None:
        """Record the adjustments and the thread count kept in ``time_budget.json`` of the
        work dir (the main job evaluates with the same thread count)."""
        if self._reprobe is not None:    # the loop ended during a probe: keep the known count
            torch.set_num_threads(self._reprobe['kept'])
            self._reprobe = None
        record = dict(budget_s=self.budget_s, iterations=runner.iter,
                      threads=torch.get_num_threads(), thread_paces=self.thread_paces,
                      adjustments=self.adjustments, reprobes=self.reprobes)
        with open(osp.join(runner.work_dir, 'time_budget.json'), 'w') as f:
            json.dump(record, f, indent=1)

    # ---------------------------------------------------------------------------- adjusting
    def projected_iters(self, done: int, seconds_per_iter: float, now: float) -> int:
        """Iterations in all that fit before the deadline (minus the reserve)."""
        left = self.deadline - self.reserve_s - now
        return max(self._first_iter + self.min_iters, done + 1,
                   done + int(math.floor(left / seconds_per_iter)))

    def _adjust(self, runner, done: int, window: List[float], force: bool = False) -> None:
        if not window:
            return
        pace = sum(window) / len(window)
        old = runner.train_loop.max_iters
        new = self.projected_iters(done, pace, time.time())
        if not force and abs(new - old) <= self.tolerance * old:
            return
        self.set_max_iters(runner, new)
        record = dict(iter=done, seconds_per_iter=pace, old_max_iters=old, max_iters=new,
                      seconds_left=self.deadline - time.time())
        self.adjustments.append(record)
        print_log(f'TimeBudgetHook: at iteration {done}, {pace:.3f} s per iteration and '
                  f'{record["seconds_left"]:.0f} s left (reserve {self.reserve_s:.0f} s): '
                  f'max_iters {old} -> {new}; one-cycle schedules re-timed to end there',
                  logger='current')

    @staticmethod
    def set_max_iters(runner, new: int) -> None:
        """Give the running loop ``new`` iterations: its length, a validation or checkpoint
        interval that meant 'at the end' (equal to the old length), and every one-cycle
        schedule (iteration-based, begun at 0) ending with it."""
        loop = runner.train_loop
        old = loop.max_iters
        loop._max_iters = int(new)
        if getattr(loop, 'val_interval', None) == old:
            loop.val_interval = int(new)
        for hook in runner.hooks:
            if isinstance(hook, CheckpointHook) and hook.interval == old:
                hook.interval = int(new)
        for path, scheduler in scheduler_entries(runner.param_schedulers):
            if isinstance(scheduler, OneCycleParamScheduler):
                rescale_one_cycle(scheduler, int(new) - scheduler.begin)
            elif getattr(scheduler, 'end', None) == old:
                print_log(f'TimeBudgetHook: {path} ({type(scheduler).__name__}) ends at {old} '
                          'and is not re-timed', logger='current', level=30)
