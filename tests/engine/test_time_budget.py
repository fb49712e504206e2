"""TimeBudgetHook: the iteration count follows the measured pace, the one-cycle schedule ends
with the new loop (main's rescale_one_cycle, end moved along), the ScheduleCheckHook of the
default runtime passes at train start, and the thread probe keeps the faster count."""
import json
import runpy
import sys
import time
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader
from torch.utils.data import Dataset

from clip4str_plugin.datasets.lmdb_io import write_lmdb
from clip4str_plugin.datasets.word_presets import preset_options
from clip4str_plugin.datasets.word_renderer import render_samples
from clip4str_plugin.engine.schedule_check import ScheduleCheckHook
from clip4str_plugin.engine.time_budget import TimeBudgetHook
from clip4str_plugin.weights.mmengine_loader import load_checkpoint_file, use_weights_only_loader
from conftest import CONFIGS, ROOT


class _Slow(BaseModel):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(1))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        time.sleep(0.01)
        return dict(loss=(self.w * inputs.float().mean()) ** 2)


class _Data(Dataset):
    def __len__(self):
        return 10

    def __getitem__(self, i):
        return dict(inputs=torch.tensor([float(i)]))


def slow_runner(work_dir, hooks, max_iters=100000, **kwargs):
    return Runner(
        model=_Slow(), work_dir=str(work_dir),
        train_dataloader=dict(dataset=_Data(), sampler=dict(type='InfiniteSampler'),
                              batch_size=2, collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(type=OptimWrapper, optimizer=dict(type='SGD', lr=0.1)),
        param_scheduler=[dict(type='OneCycleLR', eta_max=0.1, total_steps=max_iters,
                              end=max_iters, pct_start=0.1, by_epoch=False)],
        train_cfg=dict(by_epoch=False, max_iters=max_iters, val_interval=max_iters),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=max_iters,
                                           by_epoch=False),
                           logger=dict(type='LoggerHook', interval=1000)),
        custom_hooks=hooks, default_scope='mmengine', **kwargs)


def test_runner_stops_within_budget_with_the_schedule_ending_at_the_loop(tmp_path):
    hook = TimeBudgetHook(budget_s=2.0, warmup_iters=10, skip_iters=2, recheck_s=0)
    runner = slow_runner(tmp_path, [ScheduleCheckHook(), hook])
    start = time.time()
    runner.train()
    took = time.time() - start
    assert len(hook.adjustments) == 1
    new = hook.adjustments[0]['max_iters']
    assert runner.iter == new and 20 < new < 200, hook.adjustments
    assert took < 3.5
    scheduler = runner.param_schedulers[0]
    assert scheduler.total_steps == new and scheduler.end == new
    assert runner.optim_wrapper.get_lr()['lr'][0] < 1e-4   # annealed to the end (max 0.1)
    # "at the end" intervals moved along: the last iteration was checkpointed
    assert (tmp_path / f'iter_{new}.pth').is_file()
    record = json.loads((tmp_path / 'time_budget.json').read_text())
    assert record['iterations'] == new and record['adjustments'][0]['max_iters'] == new


def test_runner_probes_the_thread_counts_again(tmp_path):
    before = torch.get_num_threads()
    hook = TimeBudgetHook(budget_s=2.0, warmup_iters=10, skip_iters=2, recheck_s=0.3,
                          reprobe_s=0.3, probe_threads=(2, 1))
    try:
        slow_runner(tmp_path, [ScheduleCheckHook(), hook]).train()
        assert hook.reprobes and all(set(r['seconds_per_iter']) == {1, 2} and
                                     r['threads'] in (1, 2) for r in hook.reprobes)
        record = json.loads((tmp_path / 'time_budget.json').read_text())
        assert len(record['reprobes']) == len(hook.reprobes)
        assert record['threads'] == hook.reprobes[-1]['threads']
    finally:
        torch.set_num_threads(before)


def test_a_resumed_run_is_measured_from_its_own_first_iteration(tmp_path, monkeypatch):
    monkeypatch.setattr(CheckpointLoader, '_schemes', dict(CheckpointLoader._schemes))
    use_weights_only_loader()      # as the tools (undone afterwards)
    slow_runner(tmp_path, [], max_iters=20).train()
    hook = TimeBudgetHook(budget_s=2.0, warmup_iters=10, skip_iters=2, recheck_s=0)
    runner = slow_runner(tmp_path, [hook], max_iters=400, experiment_name='resumed',
                         resume=True, load_from=str(tmp_path / 'iter_20.pth'))
    runner.train()
    assert [a['iter'] for a in hook.adjustments] == [30]    # warm-up: iterations 21-30
    new = hook.adjustments[0]['max_iters']
    assert runner.iter == new and 40 < new < 400 and runner.param_schedulers[0].end == new


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
        'tools/train.py', str(CONFIGS / 'clip4str' / 'clip4str_tiny_broad.py'), '--work-dir',
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
