"""A converted official checkpoint reads crops as the authors' read.py (mean = std = 0.5) by
default; the tools that read images offer the OpenAI statistics one flag away (``--norm``)."""
import pytest
import torch
from mmengine.config import Config

from clip4str_plugin.cli.norm_option import NORMS
from clip4str_plugin.weights.loading import checkpoint_config, load_checkpoint_file
from conftest import ROOT, run_tool
from fixtures.make_official_tiny import load_official_tiny
from test_convert_clip4str_ckpt import write_lightning_ckpt
from test_infer import load_tool

HALF = [127.5] * 3
OPENAI = NORMS['openai']


@pytest.fixture(scope='module')
def official(tmp_path_factory):
    """(the converted tiny official checkpoint, a config file of its model with the OpenAI
    statistics, a checkpoint of the same weights recording no normalisation)."""
    tmp = tmp_path_factory.mktemp('official')
    src, dst = tmp / 'official.ckpt', tmp / 'official.pth'
    write_lightning_ckpt(src, load_official_tiny()[0])
    assert run_tool('convert_clip4str_ckpt.py', src, dst, monkeypatch=pytest.MonkeyPatch()) == ''
    checkpoint = load_checkpoint_file(str(dst))
    cfg = Config.fromstring(checkpoint['meta']['cfg'], '.py')
    cfg.model.data_preprocessor.update(mean=OPENAI['mean'], std=OPENAI['std'])
    config = tmp / 'openai_stats.py'
    cfg.dump(str(config))
    plain = tmp / 'plain.pth'
    torch.save(dict(state_dict=checkpoint['state_dict'], meta=dict(cfg=cfg.pretty_text)),
               str(plain))
    return dst, config, plain


def stats(model) -> list:
    """The data preprocessor's mean, then its std (six numbers)."""
    pre = model.data_preprocessor
    return pre.mean.flatten().tolist() + pre.std.flatten().tolist()


def test_the_converter_records_the_authors_normalisation(official):
    dst, _, _ = official
    meta = load_checkpoint_file(str(dst))['meta']
    assert meta['normalization'] == dict(mean=HALF, std=HALF, source='official read.py')
    embedded = checkpoint_config(str(dst)).model.data_preprocessor   # read as data
    assert (embedded.mean, embedded.std) == (HALF, HALF)


@pytest.mark.parametrize('argv, expected', [
    ([], (HALF, HALF)),
    (['--norm', 'openai'], (OPENAI['mean'], OPENAI['std'])),
    (['--norm', 'reference'], (HALF, HALF)),
    (['--rec', '{config}'], (HALF, HALF)),   # the checkpoint's record over the config's stats
    (['--rec', '{config}', '--norm', 'openai'], (OPENAI['mean'], OPENAI['std'])),
])
def test_infer_reads_as_the_checkpoint_records_unless_told(official, argv, expected):
    dst, config, _ = official
    infer = load_tool('infer')
    args = infer.parse_args([str(dst), 'crops/', '--device', 'cpu',
                             *[a.format(config=config) for a in argv]])
    assert stats(infer.build_inferencer(args).model) == pytest.approx(expected[0] + expected[1])


def test_a_checkpoint_recording_nothing_keeps_its_configs_statistics(official):
    _, _, plain = official
    infer = load_tool('infer')
    for argv, expected in (([], OPENAI), (['--norm', 'reference'], dict(mean=HALF, std=HALF))):
        args = infer.parse_args([str(plain), 'crops/', '--device', 'cpu', *argv])
        assert stats(infer.build_inferencer(args).model) == pytest.approx(
            expected['mean'] + expected['std'])


@pytest.mark.parametrize('argv, expected', [
    ([], HALF), (['--norm', 'openai'], OPENAI['std']), (['--reference-norm'], HALF)])
def test_test_tool_normalises_as_the_checkpoint_records_unless_told(official, argv, expected,
                                                                    monkeypatch, tmp_path):
    dst, config, _ = official
    tool = load_tool('test')
    monkeypatch.setattr('sys.argv', ['test.py', str(config), str(dst), '--work-dir',
                                     str(tmp_path), *argv])
    cfg = tool.setup_cfg(tool.parse_args())
    assert cfg.model.data_preprocessor.std == pytest.approx(expected)


def test_test_tool_reference_norm_on_a_checkpoint_recording_nothing(official, monkeypatch,
                                                                    tmp_path):
    _, config, plain = official
    tool = load_tool('test')
    for argv, expected in (([], OPENAI['std']), (['--reference-norm'], HALF)):
        monkeypatch.setattr('sys.argv', ['test.py', str(config), str(plain), '--work-dir',
                                         str(tmp_path), *argv])
        assert tool.setup_cfg(tool.parse_args()).model.data_preprocessor.std == \
            pytest.approx(expected)


def test_the_visualisation_tools_offer_the_flag(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / 'tools'))     # visualize_attention imports infer
    for name in ('demo', 'visualize_attention'):
        args = ['--weights', 'w.pth', 'x.png'] if name == 'visualize_attention' else []
        assert load_tool(name).parse_args([*args, '--norm', 'openai']).norm == 'openai'
