"""A checkpoint's config read as data (ast), never run: MMEngine's pretty_text of the shipped
configs reads back to the same dict, the re-written text reads back through MMEngine too, code
of every kind is one line naming the file and the line, and the loader re-writes every config a
checkpoint carries (.pth and .safetensors)."""
import json
import math

import pytest
import torch
from mmengine.config import Config
from safetensors.torch import save_file

from clip4str_plugin.config_text import parse_config_text, render_config_text
from clip4str_plugin.weights.errors import CheckpointReadError, ConfigTextError
from clip4str_plugin.weights.loading import checkpoint_config, load_checkpoint_file
from conftest import CONFIGS, ROOT

SPOTTING_DBNET = ROOT / 'projects' / 'clip4str_spotting' / 'configs' / \
    'dbnet_resnet18_fpnc_synth-scenes.py'


def pretty_text(path) -> str:
    """MMEngine's pretty_text of a config file, as the Runner writes it (without yapf's layout,
    which takes seconds and changes no token)."""
    cfg = Config.fromfile(str(path), import_custom_modules=False)
    return Config(cfg.to_dict(), format_python_code=False).pretty_text


@pytest.mark.parametrize('path', [CONFIGS / 'clip4str' / 'clip4str-tiny_3k_synth.py',
                                  CONFIGS / 'dptr' / 'dptr_pretrain_clip-b16_art.py',
                                  SPOTTING_DBNET])
def test_pretty_text_of_shipped_configs_reads_back_as_data(path):
    expected = Config.fromfile(str(path), import_custom_modules=False).to_dict()
    data = parse_config_text(pretty_text(path), 'x.pth')
    assert data == expected
    text = render_config_text(data, 'x.pth')
    assert parse_config_text(text, 'x.pth') == expected
    assert Config.fromstring(text, '.py').to_dict() == expected     # MMEngine reads it alike


def test_non_finite_floats_sets_tuples_and_odd_keys_round_trip():
    data = dict(a=math.inf, b=[-math.inf, -2, -0.5, (1, ), ()], c=set(), d={3, 4},
                e={'x y': dict(k=None)}, f={1: True})
    text = render_config_text(data, 'x.pth')
    for back in (parse_config_text(text, 'x.pth'), Config.fromstring(text, '.py').to_dict()):
        assert back == data
    nan = parse_config_text(render_config_text(dict(n=math.nan), 'x.pth'), 'x.pth')['n']
    assert math.isnan(nan)
    # as MMEngine's pretty_text prints them (it cannot read these back itself)
    assert parse_config_text("a = inf\nb = -inf\nc = dict({'x y': 1})\n", 'x.pth') == \
        dict(a=math.inf, b=-math.inf, c={'x y': 1})


@pytest.mark.parametrize('text, line, what', [
    ("import os\nos.system('touch MARKER')", 1, 'an import: import os'),
    ("model = dict()\nx = __import__('os').system('touch MARKER')", 2,
     "a call: __import__('os').system('touch MARKER')"),
    ("x = open('MARKER', 'w')", 1, "a call: open('MARKER', 'w')"),
    ("x = dict(a=os.path)", 1, 'an attribute: os.path'),
    ("x = [home]", 1, 'a name: home'),
    ("x = lambda: 0", 1, 'a lambda: lambda: 0'),
    ("x = f'{y}'", 1, "an f-string: f'{y}'"),
    ("x = 2 ** 10", 1, 'an operator: 2 ** 10'),
    ("x = dict(**y)", 1, 'a call: dict(**y)'),
    ("_base_ = ['base.py']", 1, "a base config file: _base_ = ['base.py']"),
    ("x = '{{ $HOME }}'", 1, "a '{{ ... }}' substitution: '{{ $HOME }}'"),
    ("x = dict(a='{{ $HOME')", 1, "a '{{ ... }}' substitution: '{{ $HOME'"),
    ("__builtins__ = dict()", 1, 'a name starting with __: __builtins__ = dict()'),
    ("x = dict()\nprint(x)", 2, 'not data: print(x)'),
])
def test_code_is_refused_in_one_line(text, line, what):
    with pytest.raises(ConfigTextError) as refused:
        parse_config_text(text, 'EVIL.pth (meta[\'cfg\'])')
    assert str(refused.value) == (
        f"refusing the config in EVIL.pth (meta['cfg']), line {line}: {what}; a checkpoint's "
        'config is data (literals, lists, tuples, sets, dicts) and nothing in it is run '
        '(docs/refusals.md)')
    assert isinstance(refused.value, CheckpointReadError)


def test_custom_imports_name_only_trusted_modules():
    trusted = ("custom_imports = dict(imports=['clip4str_mmcv_lite', 'clip4str_plugin', "
               "'clip4str_plugin.weights.safe_loading', 'mmocr.models', "
               "'projects.clip4str_spotting.clip4str_spotting'], allow_failed_imports=False)")
    assert len(parse_config_text(trusted, 'x.pth')['custom_imports']['imports']) == 5
    for name in ('payload', 'clip4str_plugin_extra', 'os'):
        with pytest.raises(ConfigTextError, match=(
                rf"^refusing the config in x.pth, line 2: custom_imports names '{name}', which "
                'is not a module of this plugin, its spotting project or OpenMMLab.*importing '
                r'a module runs its code \(docs/refusals.md\)$')):
            parse_config_text(f"a = 1\ncustom_imports = dict(imports=['{name}'])", 'x.pth')


def test_syntax_errors_and_non_text_are_one_line(tmp_path):
    with pytest.raises(ConfigTextError, match=r'^cannot read the config in x.pth, line 1: not '
                                              r'Python data \(SyntaxError: '):
        parse_config_text('model = dict(', 'x.pth')
    with pytest.raises(ConfigTextError, match=r'^cannot write the config of x.pth as data: it '
                                              r'holds a Tensor'):
        render_config_text(dict(w=torch.zeros(1)), 'x.pth')
    path = tmp_path / 'int.pth'
    torch.save(dict(state_dict={}, meta=dict(cfg=3)), str(path))
    with pytest.raises(ConfigTextError, match=rf"^cannot read the config in {path} "
                                              r"\(meta\['cfg'\]\): a int, neither"):
        load_checkpoint_file(str(path))


def write_checkpoint(path, meta, message_hub=None):
    """A .pth (torch.save) or .safetensors (meta as JSON in its metadata) holding ``meta``."""
    state = dict(w=torch.arange(3.0))
    if str(path).endswith('.safetensors'):
        save_file(state, str(path), metadata={'meta': json.dumps(meta)})
    else:
        torch.save(dict(state_dict=state, meta=meta,
                        **({'message_hub': message_hub} if message_hub else {})), str(path))
    return str(path)


@pytest.mark.parametrize('suffix', ['.pth', '.safetensors'])
def test_the_loader_rewrites_every_config_as_literals(tmp_path, suffix):
    text = "model = dict(type='X', size=(32, -128), f=inf)\nname = 'run'\n"
    hub = dict(runtime_info=dict(cfg=text, iter=2), log_scalars={})
    path = write_checkpoint(tmp_path / f'ok{suffix}', dict(cfg=text, seed=0), hub)
    loaded = load_checkpoint_file(path)
    expected = dict(model=dict(type='X', size=(32, -128), f=math.inf), name='run')
    holders = [loaded['meta']]
    if suffix == '.pth':                      # (a safetensors file holds meta only)
        holders.append(loaded['message_hub']['runtime_info'])
    for holder in holders:
        assert holder['cfg'] != text and 'inf' not in holder['cfg'].replace("'inf'", '')
        assert Config.fromstring(holder['cfg'], '.py').to_dict() == expected
    assert checkpoint_config(path).to_dict() == expected
    assert loaded['state_dict']['w'].tolist() == [0.0, 1.0, 2.0]


def test_a_config_stored_as_a_dict_is_checked_alike(tmp_path):
    evil = write_checkpoint(tmp_path / 'evil.pth',
                            dict(cfg=dict(custom_imports=dict(imports=['payload']))))
    with pytest.raises(ConfigTextError, match=r"\(meta\['cfg'\]\), line 1: custom_imports "
                                              "names 'payload', which is not a module"):
        load_checkpoint_file(evil)
    good = write_checkpoint(tmp_path / 'good.pth', dict(cfg=dict(model=dict(size=(1, 2)))))
    assert checkpoint_config(good).model.size == (1, 2)
    assert Config.fromstring(load_checkpoint_file(good)['meta']['cfg'], '.py').model.size == \
        (1, 2)


def test_a_checkpoint_config_refused_or_missing_is_one_line(tmp_path):
    evil = write_checkpoint(tmp_path / 'evil.pth', dict(cfg='model = dict()'),
                            dict(runtime_info=dict(cfg="x = open('MARKER', 'w')")))
    with pytest.raises(ConfigTextError, match=(
            rf"^refusing the config in {evil} \(message_hub.runtime_info\['cfg'\]\), line 1: a "
            r"call: open\('MARKER', 'w'\); ")):
        checkpoint_config(evil)
    bare = write_checkpoint(tmp_path / 'bare.pth', dict(iter=2))
    with pytest.raises(ConfigTextError, match=rf"^{bare} carries no config \(meta\['cfg'\]\): "
                                              'give the config it was trained with$'):
        checkpoint_config(bare)
