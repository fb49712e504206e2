"""TimeBudgetHook on a fake clock: the one-cycle schedule follows the elapsed time (one rise, one
annealing, whatever the pace does) and ends with the budget, the loop's length follows the pace,
a resumed run goes on from its place in the cycle, a short run trains at a higher learning rate
(short_run_lr), the ScheduleCheckHook of the default runtime passes at train start, and the
thread probe keeps the faster count."""
import json
import runpy
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader
from torch.utils.data import Dataset

from clip4str_plugin.datasets.lmdb_io import write_lmdb
from clip4str_plugin.synth.word_presets import preset_options
from clip4str_plugin.synth.word_renderer import render_samples
from clip4str_plugin.engine.hooks.schedule_check_hook import ScheduleCheckHook
from clip4str_plugin.engine.hooks import time_budget_hook as time_budget
from clip4str_plugin.engine.hooks.time_budget_hook import TimeBudgetHook
from clip4str_plugin.weights.loading import load_checkpoint_file
from clip4str_plugin.weights.safe_loading import use_weights_only_loader
from conftest import CONFIGS, ROOT


class FakeClock:
    """The budget's clock: it moves only as the model computes, ``pace(now)`` seconds per
    iteration (no real waiting)."""

    def __init__(self, pace, start=1000.0):
        self.now, self.pace = start, pace

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    """Pace 1 s per iteration, then 3 s from second 100 of the budget on."""
    fake = FakeClock(lambda now: 1.0 if now < 1100.0 else 3.0)
    monkeypatch.setattr(time_budget, 'wall_clock', fake)
    return fake


class _Timed(BaseModel):
    def __init__(self, clock, crash_at=None):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(1))
        self.clock, self.crash_at, self.calls = clock, crash_at, 0

    def forward(self, inputs, data_samples=None, mode='tensor'):
        self.calls += 1
        if self.calls == self.crash_at:
            raise RuntimeError('the machine went down')
        self.clock.now += self.clock.pace(self.clock.now)
        return dict(loss=(self.w * inputs.float().mean()) ** 2)


class _Data(Dataset):
    def __len__(self):
        return 10

    def __getitem__(self, i):
        return dict(inputs=torch.tensor([float(i)]))


class _Record(Hook):
    """(start time, lr) of every iteration."""

    def __init__(self, clock):
        self.clock, self.iters = clock, []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.iters.append((self.clock.now, runner.optim_wrapper.get_lr()['lr'][0]))


def timed_runner(work_dir, hooks, clock, max_iters=1000, crash_at=None, interval=None,
                 **kwargs):
    return Runner(
        model=_Timed(clock, crash_at), work_dir=str(work_dir),
        train_dataloader=dict(dataset=_Data(), sampler=dict(type='InfiniteSampler'),
                              batch_size=2, collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(type=OptimWrapper, optimizer=dict(type='SGD', lr=0.1)),
        param_scheduler=[dict(type='OneCycleLR', eta_max=0.1, total_steps=max_iters,
                              pct_start=0.1, by_epoch=False)],
        train_cfg=dict(by_epoch=False, max_iters=max_iters, val_interval=max_iters),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=interval or max_iters,
                                           by_epoch=False),
                           logger=dict(type='LoggerHook', interval=1000)),
        custom_hooks=[ScheduleCheckHook()] + hooks, default_scope='mmengine', **kwargs)


LR_END = 0.1 / 25 / 1e4      # OneCycleLR's minimum: eta_max / div_factor / final_div_factor


def assert_one_cycle_in_time(iters, end, start=None):
    """The learning rates rise to one peak (unless ``start`` is past it), then never go back
    up, the last one the cycle's minimum; the last iteration ends by ``end``."""
    times, lrs = np.array(iters).T
    peak = int(lrs.argmax())
    assert np.all(np.diff(lrs[:peak + 1]) >= 0) and np.all(np.diff(lrs[peak:]) <= 0)
    assert lrs[-1] == pytest.approx(LR_END, rel=1e-6)
    assert times[-1] < end <= times[-1] + 2 * 3.0          # started before, ended by then
    return times, lrs, peak


def test_pace_tripling_mid_run_keeps_one_annealing_that_ends_with_the_budget(tmp_path, clock):
    hook = TimeBudgetHook(budget_s=300.0, warmup_iters=10, skip_iters=2, recheck_s=20)
    record = _Record(clock)
    runner = timed_runner(tmp_path, [hook, record], clock)
    runner.train()
    times, lrs, peak = assert_one_cycle_in_time(record.iters, 1300.0)
    assert clock.now <= 1300.0                               # the last one ended in time
    # 100 iterations of 1 s, then 66 of 3 s: one more would end at second 301
    assert runner.train_loop.max_iters == runner.iter == len(lrs) == 100 + 66
    # driven by time: the peak at 10 % of the 300 s (step resolution 1 / 999 of the cycle),
    # not at 10 % of the iterations (second 17)
    assert times[peak] == pytest.approx(1030.0, abs=1.0)
    # the loop's length was fitted several times as the pace moved; the schedule did not move
    assert len(hook.adjustments) >= 2 and hook.adjustments[0]['max_iters'] == 300
    assert hook.adjustments[-1]['max_iters'] == runner.iter
    assert runner.param_schedulers[0].total_steps == 1000    # only its resolution
    # "at the end" intervals moved along: the last iteration was checkpointed
    assert (tmp_path / f'iter_{runner.iter}.pth').is_file()
    saved = json.loads((tmp_path / 'time_budget.json').read_text())
    assert saved['iterations'] == runner.iter and saved['adjustments'] == hook.adjustments


@pytest.mark.parametrize('full_iters, scale', [(600, 1.5), (400, 4 / 3), (200, 1.0)])
def test_a_short_run_trains_at_a_higher_learning_rate(tmp_path, clock, full_iters, scale):
    """300 iterations fit (1 s each, the tripled pace comes later): fewer than ``full_iters``
    scales the cycle's rates by full_iters / 300, at most 1.5; a run that fits more
    keeps the config's. Still one rise and one annealing that ends with the budget."""
    rule = dict(full_iters=full_iters, power=1.0, max_scale=1.5)
    hook = TimeBudgetHook(budget_s=300.0, warmup_iters=10, skip_iters=2, short_run_lr=rule)
    record = _Record(clock)
    timed_runner(tmp_path, [hook, record], clock).train()
    times, lrs = np.array(record.iters).T
    peak = int(lrs.argmax())
    assert hook.lr_scale == pytest.approx(scale)
    assert lrs.max() == pytest.approx(0.1 * scale, rel=1e-3)
    assert lrs[-1] == pytest.approx(LR_END * scale, rel=1e-6) and times[-1] < 1300.0
    assert np.all(np.diff(lrs[10:peak + 1]) >= 0) and np.all(np.diff(lrs[peak:]) <= 0)
    assert json.loads((tmp_path / 'time_budget.json').read_text())['lr_scale'] == hook.lr_scale
    with pytest.raises(ValueError, match='short_run_lr takes positive full_iters'):
        TimeBudgetHook(budget_s=1, short_run_lr=dict(rule, power=0))
    with pytest.raises(ValueError, match='short_run_lr takes positive full_iters'):
        TimeBudgetHook(budget_s=1, short_run_lr=dict(full_iters=10))


def test_runner_probes_the_thread_counts_again(tmp_path, clock):
    before = torch.get_num_threads()
    hook = TimeBudgetHook(budget_s=60.0, warmup_iters=10, skip_iters=2, recheck_s=5,
                          reprobe_s=10, probe_threads=(2, 1))
    try:
        timed_runner(tmp_path, [hook], clock).train()
        assert len(hook.reprobes) >= 3 and all(set(r['seconds_per_iter']) == {1, 2} and
                                               r['threads'] in (1, 2) for r in hook.reprobes)
        record = json.loads((tmp_path / 'time_budget.json').read_text())
        assert len(record['reprobes']) == len(hook.reprobes)
        assert record['threads'] == hook.reprobes[-1]['threads']
    finally:
        torch.set_num_threads(before)


def test_a_resumed_run_goes_on_from_its_place_in_the_cycle(tmp_path, clock, monkeypatch):
    """A run that crashed at iteration 80 resumes from its checkpoint at 50 with a budget of
    its own: the learning rate goes on from where it was and anneals to the end of the new
    budget; the loop and the schedule kept the config's length (no resume_rescale)."""
    monkeypatch.setattr(CheckpointLoader, '_schemes', dict(CheckpointLoader._schemes))
    use_weights_only_loader()      # as the tools (undone afterwards)
    first = _Record(clock)
    with pytest.raises(RuntimeError, match='went down'):
        timed_runner(tmp_path, [TimeBudgetHook(budget_s=300.0, warmup_iters=10, skip_iters=2),
                                first], clock, crash_at=81, interval=50).train()
    hook, second = TimeBudgetHook(budget_s=200.0, warmup_iters=10, skip_iters=2), _Record(clock)
    start = clock.now
    runner = timed_runner(tmp_path, [hook, second], clock, experiment_name='resumed',
                          resume=True, load_from=str(tmp_path / 'iter_50.pth'))
    runner.train()
    assert [a['iter'] for a in hook.adjustments][0] == 60   # warm-up: iterations 51-60
    assert second.iters[0][1] == pytest.approx(first.iters[50][1], rel=1e-9)
    assert hook.start_fraction == pytest.approx(50 / 300, abs=2e-3)
    assert_one_cycle_in_time(first.iters[:51] + second.iters, start + 200.0)


def test_probe_threads_keeps_the_faster_count():
    before = torch.get_num_threads()
    hook = TimeBudgetHook(budget_s=100.0, warmup_iters=12, skip_iters=2, probe_threads=(2, 1))
    assert hook._probe_slots() == [(2, 2, 7), (1, 7, 12)]
    hook._durations = [9.0] * 2 + [0.5] + [0.2] * 4 + [0.5] + [0.1] * 4
    try:
        window = hook._choose_threads()
        assert torch.get_num_threads() == 1 and window == [0.1] * 4
        assert hook.thread_paces == {2: 0.2, 1: 0.1}
    finally:
        torch.set_num_threads(before)


def reprobe(hook, kept_pace, durations):
    """Run a re-probe on ``durations`` (one per iteration); returns the iterations it took."""
    hook._start_reprobe(kept_pace)
    for i, d in enumerate(durations):
        hook._durations.append(d)
        hook._step_reprobe(done=100 + i)
        if hook._reprobe is None:
            return i + 1
    return None


def test_reprobe_takes_a_count_that_became_faster_and_drops_a_slow_one_at_once(tmp_path):
    """The warm-up kept 1 thread while another process was busy; later probes switch to 2
    threads once they are faster, and leave a much slower count after one timed iteration."""
    before = torch.get_num_threads()
    hook = TimeBudgetHook(budget_s=100.0, warmup_iters=12, skip_iters=2, probe_threads=(2, 1),
                          reprobe_s=60.0)
    try:
        torch.set_num_threads(1)
        # 2 threads now faster: the switch iteration, then 3 timed ones
        assert reprobe(hook, 0.64, [1.0, 0.30, 0.32, 0.31]) == 4
        assert torch.get_num_threads() == 2
        assert hook.thread_paces == pytest.approx({1: 0.64, 2: 0.31})
        assert hook.reprobes == [dict(iter=103, seconds_per_iter=hook.thread_paces, threads=2)]
        # later, 1 thread is much slower than 2 (0.9 > 1.5 x 0.31): one timed iteration
        assert reprobe(hook, 0.31, [2.0, 0.9, 0.9, 0.9]) == 2
        assert torch.get_num_threads() == 2 and hook.thread_paces[1] == pytest.approx(0.9)
        # a probe under way when the loop ends leaves the count it started from
        hook._start_reprobe(0.31)
        assert torch.get_num_threads() == 1
        runner = SimpleNamespace(iter=7, work_dir=str(tmp_path))
        hook.after_train(runner)
        assert torch.get_num_threads() == 2 and hook._reprobe is None
    finally:
        torch.set_num_threads(before)


def test_projection_and_bad_settings():
    hook = TimeBudgetHook(budget_s=100.0, warmup_iters=10, reserve_s=10, start_time=1000.0)
    # 50 s left minus the 10 s reserve at 0.5 s per iteration: 80 more after 10
    assert hook.projected_iters(10, 0.5, now=1050.0) == 90
    assert hook.projected_iters(10, 0.5, now=1099.0) == 11     # never fewer than min_iters
    with pytest.raises(ValueError, match='budget_s must be positive, got 0'):
        TimeBudgetHook(budget_s=0)
    with pytest.raises(ValueError, match='need 0 <= skip_iters < warmup_iters'):
        TimeBudgetHook(budget_s=1, warmup_iters=5, skip_iters=5)


def test_broad_config_trains_within_a_short_budget(tmp_path, monkeypatch):
    """tools/train.py on the main job's broad config (shipped CLIP, spelled captions): the
    ScheduleCheckHook passes at train start (max_iters 3000 = the one-cycle's total), the budget
    hook then cuts the run; the last iteration validates, checkpoints and ends the annealing."""
    root = tmp_path / 'broad'
    for split, num in (('train', 8), ('val', 4)):
        write_lmdb(str(root / split), render_samples(split, num, 0, **preset_options('broad')))
    monkeypatch.setenv('BROAD_DATA_ROOT', str(root))
    monkeypatch.setattr(Config, 'pretty_text', property(lambda cfg: '# config elided (tests)'))
    work_dir = tmp_path / 'work'
    monkeypatch.setattr(sys, 'argv', [
        'tools/train.py', str(CONFIGS / 'clip4str' / 'clip4str-tiny_20min_synth-broad.py'),
        '--work-dir',
        str(work_dir), '--cfg-options', 'train_dataloader.batch_size=2',
        'val_dataloader.batch_size=4', 'model.decoder.refine_iters=0',
        'custom_hooks.0.budget_s=6', 'custom_hooks.0.warmup_iters=6',
        'custom_hooks.0.skip_iters=2', 'custom_hooks.0.reserve_s=0'])
    monkeypatch.setattr(sys, 'path', list(sys.path))
    threads = torch.get_num_threads()
    try:
        runpy.run_path(str(ROOT / 'tools' / 'train.py'), run_name='__main__')
    finally:
        torch.set_num_threads(threads)
    record = json.loads((work_dir / 'time_budget.json').read_text())
    iterations = record['iterations']
    assert 6 < iterations < 3000 and record['adjustments'][-1]['max_iters'] == iterations
    assert set(record['thread_paces']) == {'2', '1'}
    state = load_checkpoint_file(str(work_dir / f'iter_{iterations}.pth'))
    assert state['meta']['iter'] == iterations
    lrs = state['message_hub']['log_scalars']['train/lr'].data[0]
    assert len(lrs) == iterations and lrs[-1] < 1e-3 / 25 / 1e3   # annealed at the last one
    scalars = [json.loads(line) for path in work_dir.glob('*/vis_data/scalars.json')
               for line in path.read_text().splitlines()]
    # one validation (logged by epoch: 0): val_interval (3000) moved along with the loop's end
    assert [s['step'] for s in scalars if 'broad-val/str/accuracy' in s] == [0]
