"""Which torch thread count trains faster, measured on the training iterations themselves.

:class:`ThreadProbeMixin` gives :class:`~.time_budget.TimeBudgetHook` its thread probes: the
warm-up is split between the counts of ``probe_threads`` and the fastest is kept (on a machine
shared with other processes, OpenMP threads that wait for each other can make two threads slower
than one); a re-probe later tries the other counts again for a few iterations (an attempt ends
after its first timed iteration when that one is much slower), so a choice made while another
process was busy does not last the run. Every choice is logged with the paces behind it.
"""
from typing import Dict, List

import torch
from mmengine.logging import print_log


class ThreadProbeMixin:
    """Thread probes over the iteration durations in ``self._durations`` (seconds, one per
    iteration); the class using it sets ``probe_threads``, ``warmup_iters``, ``skip_iters``,
    ``thread_paces`` (count -> seconds per iteration), ``reprobes`` (a list) and ``_reprobe``
    (None)."""

    #: timed iterations per thread count in a re-probe (after one that pays the switch)
    REPROBE_ITERS = 3

    def _probe_slots(self):
        """(thread count, first iteration, end iteration) of each warm-up probe phase."""
        timed = self.warmup_iters - self.skip_iters
        share = timed // len(self.probe_threads)
        return [(n, self.skip_iters + i * share,
                 self.skip_iters + (i + 1) * share if i + 1 < len(self.probe_threads)
                 else self.warmup_iters) for i, n in enumerate(self.probe_threads)]

    def _choose_threads(self) -> List[float]:
        """Keep the fastest thread count of the warm-up; returns its timed iterations."""
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
                  + f' s; keeping {best} thread(s), the fastest', logger='current')
        return best

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

    def _abort_reprobe(self) -> None:
        """The loop ended during a probe: go back to the count it started from."""
        if self._reprobe is not None:
            torch.set_num_threads(self._reprobe['kept'])
            self._reprobe = None
