"""The training length through tools/train.py and the MMEngine Runner: --cfg-options max_iters
re-derives the schedule, a one-cycle schedule that does not end with the loop is refused before
the first iteration, and a resume with a longer loop is refused or, on request, re-timed.

tools/train.py runs in-process (same code path as the command line) on a tiny LMDB made here;
the epoch-based cases use a real Runner with a two-parameter model."""
import gc
import runpy
import uuid
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import MMLogger
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader
from torch.utils.data import DataLoader

from clip4str_plugin.datasets.lmdb_io import write_lmdb
from clip4str_plugin.synth.word_renderer import render_samples
from clip4str_plugin.engine.hooks.schedule_check_hook import ScheduleError
from clip4str_plugin.weights.loading import load_checkpoint_file
from clip4str_plugin.weights.safe_loading import use_weights_only_loader
from conftest import CONFIGS, ROOT

CONFIG = str(CONFIGS / 'clip4str' / 'clip4str-tiny_3k_synth.py')
FAST = ['train_dataloader.batch_size=2', 'model.decoder.refine_iters=0', 'val_cfg=None',
        'val_dataloader=None', 'val_evaluator=None', 'default_hooks.checkpoint.save_best=None']
LR = 1e-3                                         # the demo config's lr, every group
MIN_LR = LR / 25 / 1e4                            # one-cycle's end: initial / final_div_factor


@pytest.fixture(scope='module')
def synth_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('synth')
    write_lmdb(str(root / 'train'), render_samples('train', 8, seed=0))
    return root


@pytest.fixture(autouse=True)
def quick_runner(monkeypatch, synth_root):
    """The Runner formats the whole config with yapf for its log and every checkpoint (seconds
    each on this machine); these tests do not read it. Weights-only loading as the tool, undone
    afterwards."""
    monkeypatch.setattr(Config, 'pretty_text', property(lambda cfg: '# config elided (tests)'))
    monkeypatch.setattr(CheckpointLoader, '_schemes', dict(CheckpointLoader._schemes))
    use_weights_only_loader()
    monkeypatch.setattr(sys, 'path', list(sys.path))
    monkeypatch.setenv('SYNTH_DATA_ROOT', str(synth_root))


def new_logger():
    """print_log writes to the newest MMLogger through the stdout it was made with: make one
    now, so that the log reaches this test's (captured) stdout."""
    MMLogger.get_instance(f'test-{uuid.uuid4().hex}')


def train(work_dir, *options, resume=False):
    """tools/train.py CONFIG --work-dir WORK_DIR [--resume] --cfg-options FAST OPTIONS."""
    argv = ['tools/train.py', CONFIG, '--work-dir', str(work_dir), *(['--resume'] * resume),
            '--cfg-options', *FAST, f'experiment_name=run{len(list(work_dir.glob("*/")))}',
            *options]
    gc.collect()       # the last run's datasets: an LMDB may be open once per process
    new_logger()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, 'argv', argv)
        runpy.run_path(str(ROOT / 'tools' / 'train.py'), run_name='__main__')


def trained_lrs(checkpoint):
    """The lr of every iteration trained so far (the Runner's history, saved in checkpoints)."""
    state = load_checkpoint_file(str(checkpoint))
    return state['message_hub']['log_scalars']['train/lr'].data[0], state['meta']['iter']


def one_cycle_lrs(total, lr=LR, pct_start=0.075):
    """Every step's lr of a fresh one-cycle schedule of ``total`` steps."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total,
                                                    pct_start=pct_start)
    values = []
    for _ in range(total):
        values.append(optimizer.param_groups[0]['lr'])
        optimizer.step()
        scheduler.step()
    return np.array(values)


def test_max_iters_option_trains_exactly_that_budget_to_the_end_of_its_schedule(tmp_path,
                                                                                  capsys):
    train(tmp_path, 'max_iters=5')
    assert 'max_iters=5 sets train_cfg.max_iters 3000 -> 5, train_cfg.val_interval 3000 -> 5, ' \
        'param_scheduler.0.total_steps 3000 -> 5, default_hooks.checkpoint.interval 3000 -> 5' \
        in capsys.readouterr().out
    assert (tmp_path / 'last_checkpoint').read_text().strip().endswith('iter_5.pth')
    lrs, iters = trained_lrs(tmp_path / 'iter_5.pth')
    assert iters == 5
    np.testing.assert_allclose(lrs, one_cycle_lrs(5), rtol=1e-6)     # torch's own one-cycle
    assert lrs[-1] == pytest.approx(MIN_LR)


def test_a_loop_longer_than_its_one_cycle_is_refused_before_training(tmp_path):
    with pytest.raises(ScheduleError) as refused:
        train(tmp_path, 'train_cfg.max_iters=3')
    assert str(refused.value) == (
        'param_scheduler.0 (GroupOneCycleLR) anneals until iteration 3000 but max_iters is 3: '
        'make its total_steps span the loop (--cfg-options max_iters=N sets both)')
    assert not list(tmp_path.glob('*.pth'))


def test_resume_with_a_longer_loop_is_refused_or_rescaled_on_request(tmp_path, capsys):
    train(tmp_path, 'max_iters=4')
    with pytest.raises(ScheduleError) as refused:        # formerly: 2 iterations at lr 4e-9
        train(tmp_path, 'max_iters=6', resume=True)
    assert str(refused.value) == (
        "the checkpoint's one-cycle schedule, param_scheduler.0 (GroupOneCycleLR), ends at "
        'iteration 4; max_iters is now 6: resume with the original max_iters, or pass '
        '--cfg-options resume_rescale=True to stretch the remaining schedule')
    assert not (tmp_path / 'iter_6.pth').exists()

    capsys.readouterr()
    train(tmp_path, 'max_iters=6', 'resume_rescale=True', resume=True)
    assert 'resume_rescale: param_scheduler.0 (GroupOneCycleLR) re-timed from 4 to 6 ' \
        'iterations at iteration 4' in capsys.readouterr().out
    lrs, iters = trained_lrs(tmp_path / 'iter_6.pth')
    assert iters == 6 and len(lrs) == 6
    np.testing.assert_allclose(lrs[:4], one_cycle_lrs(4), rtol=1e-6)    # the first run
    np.testing.assert_allclose(lrs[4:], one_cycle_lrs(6)[4:], rtol=1e-6)   # the 6-step cycle
    assert lrs[-1] == pytest.approx(MIN_LR)


# ----------------------------------------------------------------- epoch-based loops

class TwoParameters(BaseModel):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(2))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = inputs @ self.weight
        return dict(loss=out.pow(2).mean()) if mode == 'loss' else out


class LrRecorder(Hook):
    def __init__(self):
        self.lrs = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.lrs.append(runner.optim_wrapper.param_groups[0]['lr'])


def epoch_runner(work_dir, max_epochs, total_steps, convert=True, resume=False, **cfg):
    """A real Runner: 4 iterations per epoch, one-cycle per epoch (converted to iterations);
    ``cfg``: top-level settings (resume_rescale)."""
    loader = DataLoader([dict(inputs=torch.randn(2)) for _ in range(8)], batch_size=2)
    return Runner(
        model=TwoParameters(), work_dir=str(work_dir), train_dataloader=loader,
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        param_scheduler=[dict(type='GroupOneCycleLR', total_steps=total_steps, by_epoch=True,
                              convert_to_iter_based=convert, pct_start=0.25)],
        custom_hooks=[dict(type='ScheduleCheckHook')], default_scope='mmocr',
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        resume=resume, experiment_name=f'epochs{len(list(work_dir.glob("*/")))}',
        cfg=dict(cfg))


@pytest.mark.parametrize('convert,message', [
    (True, 'anneals until iteration 12 but the loop ends at iteration 8 (2 epochs of 4 '
           'iterations)'),
    (False, 'anneals until epoch 3 but max_epochs is 2')])
def test_epoch_loops_are_checked_in_their_unit(tmp_path, convert, message):
    with pytest.raises(ScheduleError) as refused:
        epoch_runner(tmp_path, 2, 3, convert).train()
    assert str(refused.value) == f'param_scheduler.0 (GroupOneCycleLR) {message}: make its ' \
        'total_steps span the loop (--cfg-options max_epochs=N sets both)'


def test_resume_with_more_epochs(tmp_path):
    epoch_runner(tmp_path, 2, 2).train()
    resumed = epoch_runner(tmp_path, 3, 3, resume=True)
    with pytest.raises(ScheduleError, match='ends at iteration 8; the loop now ends at '
                       r'iteration 12 \(3 epochs of 4 iterations\): resume with the original '
                       'max_epochs'):
        resumed.train()
    runner = epoch_runner(tmp_path, 3, 3, resume=True, resume_rescale=True)
    recorder = LrRecorder()
    runner.register_hook(recorder)
    runner.train()
    assert runner.iter == 12
    np.testing.assert_allclose(recorder.lrs, one_cycle_lrs(12, lr=0.1, pct_start=0.25)[8:],
                               rtol=1e-6)


def test_resume_from_a_checkpoint_without_scheduler_state(tmp_path):
    """The scheduler would start its cycle again at iteration 8: refused."""
    epoch_runner(tmp_path, 2, 2).train()
    state = load_checkpoint_file(str(tmp_path / 'epoch_2.pth'))
    del state['param_schedulers']
    torch.save(state, tmp_path / 'epoch_2.pth')
    with pytest.raises(ScheduleError) as refused:
        epoch_runner(tmp_path, 3, 3, resume=True).train()
    assert str(refused.value) == 'param_scheduler.0 (GroupOneCycleLR) is at step 0 but the run ' \
        'is at iteration 8: resume from a checkpoint saved with its scheduler state'
