"""load_config (what tools/train.py and tools/test.py call): --cfg-options max_iters / max_epochs
re-derive what the config's variable fed; a key that nothing would read is refused in one line;
close_distributed ends a process group and is a no-op without one."""
import argparse
import uuid

import pytest
import torch.distributed as dist
from mmengine.logging import MMLogger

from clip4str_plugin.cli.launch import add_launch_args, close_distributed, load_config
from conftest import CONFIGS

SYNTH = 'configs/clip4str/clip4str-tiny_3k_synth.py'


def new_logger():
    """print_log writes to the newest MMLogger through the stdout it was made with: make one
    now, so that the log reaches this test's (captured) stdout."""
    MMLogger.get_instance(f'test-{uuid.uuid4().hex}')


def load(config, *options):
    """load_config on the command line ``CONFIG --cfg-options OPTIONS``."""
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    add_launch_args(parser)
    path = str(CONFIGS.parent / config)
    new_logger()
    return load_config(parser.parse_args([path, '--work-dir', 'unused', '--cfg-options',
                                          *options]))


def test_max_iters_re_derives_the_schedule_and_logs_it(capsys):
    cfg = load(SYNTH, 'max_iters=5', 'train_cfg.val_interval=2')   # a dotted key still wins
    assert (cfg.train_cfg.max_iters, cfg.train_cfg.val_interval) == (5, 2)
    assert cfg.param_scheduler[0].total_steps == 5 and cfg.max_iters == 5
    assert cfg.default_hooks.checkpoint.interval == 5
    assert '--cfg-options max_iters=5 sets train_cfg.max_iters 3000 -> 5, ' \
        'train_cfg.val_interval 3000 -> 5, param_scheduler.0.total_steps 3000 -> 5, ' \
        'default_hooks.checkpoint.interval 3000 -> 5, max_iters 3000 -> 5' \
        in capsys.readouterr().out


def test_a_child_config_that_restates_the_budget():
    # 800 over the demo's 3000
    cfg = load('configs/dptr/dptr_finetune_vit-tiny_synth.py', 'max_iters=7')
    assert cfg.train_cfg.max_iters == cfg.param_scheduler[0].total_steps == 7
    assert cfg.train_cfg.val_interval == cfg.default_hooks.checkpoint.interval == 7


def test_max_epochs_of_an_epoch_recipe():
    cfg = load('configs/clip4str/clip4str-b16_11e_rbu.py', 'max_epochs=3')
    assert cfg.train_cfg.max_epochs == cfg.param_scheduler[0].total_steps == 3
    assert cfg.param_scheduler[0].convert_to_iter_based and cfg.train_cfg.val_interval == 1


def test_runtime_keys_pass():
    cfg = load(SYNTH, 'resume_rescale=True', 'randomness.seed=3', 'model.decoder.refine_iters=0',
               'experiment_name=x')
    assert cfg.resume_rescale is True and cfg.randomness.seed == 3
    assert cfg.model.decoder.refine_iters == 0 and cfg.experiment_name == 'x'


PATH = str(CONFIGS / 'clip4str' / 'clip4str-tiny_3k_synth.py')


@pytest.mark.parametrize('option,message', [
    ('max_iter=5', f'--cfg-options max_iter: nothing reads a top-level max_iter (neither a Runner '
                   f'setting nor a variable of {PATH}); did you mean max_iters?'),
    ('synth_data_root=/data', f'--cfg-options synth_data_root: synth_data_root is a variable of '
     f'{PATH} that was used when the file was read, so setting it changes nothing; set the '
     'fields themselves (fields holding its value: test_dataloader.dataset.datasets.0.data_root, '
     '_synth.data_root, train_dataloader.dataset.data_root, '
     'val_dataloader.dataset.datasets.0.data_root)'),
    ('epoch_one_cycle.pct_start=0.1', f'--cfg-options epoch_one_cycle.pct_start: '
     f'epoch_one_cycle is a variable of {PATH} that was used when the file was read, so setting '
     'it changes nothing; set the fields themselves'),
    ('max_epochs=3', f'--cfg-options max_epochs=3: its loop is counted by train_cfg.max_iters '
                     f'(3000): set max_iters instead ({PATH})'),
    ('max_iters=0', f'--cfg-options max_iters=0: max_iters must be a positive whole number, '
                    f'got 0 ({PATH})'),
    ('max_iters=2.5', f'--cfg-options max_iters=2.5: max_iters must be a positive whole number, '
                      f'got 2.5 ({PATH})'),
])
def test_options_that_would_change_nothing_are_refused(option, message, monkeypatch):
    monkeypatch.setenv('SYNTH_DATA_ROOT', 'data/synth')
    with pytest.raises(SystemExit) as refused:
        load(SYNTH, option)
    assert str(refused.value) == message


def test_a_dict_written_on_the_command_line_is_refused():
    """MMEngine's --cfg-options leaves ``dict(...)`` as text: one line, not the Runner's
    traceback; an empty list still passes."""
    with pytest.raises(SystemExit) as refused:
        load(SYNTH, 'custom_hooks=[dict(type="ScheduleCheckHook")]')
    assert str(refused.value) == (
        '--cfg-options custom_hooks: \'dict(type="ScheduleCheckHook")\' stays text '
        '(--cfg-options reads numbers, strings, lists and tuples, not dict(...)); set fields one '
        'at a time (custom_hooks.0.type=...), or put the change in a config that inherits this one')
    assert load(SYNTH, 'custom_hooks=[]').custom_hooks == []


def test_a_budget_for_a_config_without_a_training_loop():
    with pytest.raises(SystemExit, match='max_iters=5: the config has no training loop'):
        load('configs/clip4str/clip4str-b16.py', 'max_iters=5')


def test_close_distributed_ends_the_group(tmp_path):
    close_distributed()                                    # no group: nothing to do
    dist.init_process_group('gloo', init_method=f'file://{tmp_path / "store"}', rank=0,
                            world_size=1)
    try:
        close_distributed()
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
