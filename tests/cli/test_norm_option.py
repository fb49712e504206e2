"""--norm: the statistics a checkpoint records, the OpenAI ones or 0.5/0.5, set on the config's
data preprocessor; a malformed record is refused in one line."""
import pytest
from mmengine.config import ConfigDict

from clip4str_plugin.cli.norm_option import NORMS, apply_norm
from clip4str_plugin.weights.errors import CheckpointError

OPENAI = NORMS['openai']


def model_cfg():
    return ConfigDict(data_preprocessor=dict(mean=OPENAI['mean'], std=OPENAI['std']))


def test_recorded_statistics_win_by_default_and_a_flag_overrides_them():
    recorded = dict(meta=dict(normalization=dict(mean=[1, 2, 3], std=[4, 5, 6], source='x')))
    cfg = model_cfg()
    assert apply_norm(cfg, 'checkpoint', recorded)['source'] == 'x'
    assert (cfg.data_preprocessor.mean, cfg.data_preprocessor.std) == ([1, 2, 3], [4, 5, 6])
    apply_norm(cfg, 'openai', recorded)
    assert cfg.data_preprocessor.std == OPENAI['std']
    apply_norm(cfg, 'reference', None)
    assert cfg.data_preprocessor.mean == cfg.data_preprocessor.std == [127.5] * 3


def test_nothing_recorded_keeps_the_configs_statistics():
    for checkpoint in (None, dict(state_dict={}), dict(meta=dict(cfg='x = 1'))):
        cfg = model_cfg()
        assert apply_norm(cfg, 'checkpoint', checkpoint) is None
        assert cfg.data_preprocessor.mean == OPENAI['mean']


@pytest.mark.parametrize('record', [
    dict(mean=[0.5] * 3), dict(mean=[1, 2], std=[1, 2]), dict(mean=[1, 2, 3], std=[1, 0, 1]),
    dict(mean=['a', 2, 3], std=[1, 1, 1]), [127.5, 127.5]])
def test_a_malformed_record_is_refused(record):
    with pytest.raises(CheckpointError, match=r"^w.pth: meta\['normalization'\] is not three "
                       r'means and three positive stds \(0-255, RGB\): .*; use --norm openai or '
                       r'--norm reference$'):
        apply_norm(model_cfg(), 'checkpoint', dict(meta=dict(normalization=record)), 'w.pth')
