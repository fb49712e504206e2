"""Every shipped config (configs/ and projects/*/configs) parses and builds its model through the
registry; the released geometries have the reference's sizes; the recipes' settings that MMEngine
cannot tie together stay consistent; the dist scripts build the right torchrun command."""
import functools
import os
import stat
import subprocess

import pytest
import torch

from conftest import CONFIGS, ROOT, build_model, load_config

ALL_CONFIGS = sorted([*CONFIGS.rglob('*.py'), *ROOT.glob('projects/*/configs/**/*.py')])


def rel(path):
    return str(path.relative_to(ROOT))


def is_base(path):
    """Shared bases (configs/_base_/...) and family bases (_base_<family>.py) are not run."""
    return '_base_' in path.parts or path.name.startswith('_base_')


# what users run, plus the CLIP4STR base that tools/convert_clip4str_ckpt.py builds
RUNNABLE = [p for p in ALL_CONFIGS if not is_base(p)] + [CONFIGS / 'clip4str' / '_base_clip4str.py']

# total / trainable parameters of the reference (scripts' parameter summaries), and the training
# recipes that build each released geometry
REFERENCE_SIZES = {'clip4str-b16.py': (158e6, 114e6), 'clip4str-b32.py': (159e6, 115e6),
                   'clip4str-l14.py': (446e6, 366e6), 'clip4str-h14.py': (1.0e9, 893e6)}
RECIPE_GEOMETRY = {'clip4str-b16_16e_real.py': 'clip4str-b16.py',
                   'clip4str-b16_11e_rbu.py': 'clip4str-b16.py',
                   'clip4str-b16_7e_mjst.py': 'clip4str-b16.py',
                   'clip4str-b16_dptr-init_16e_real.py': 'clip4str-b16.py',
                   'clip4str-l14_10e_real.py': 'clip4str-l14.py',
                   'clip4str-h14_4e_rbu.py': 'clip4str-h14.py'}


@functools.lru_cache(maxsize=None)
def config(path):
    return load_config(path)


def test_every_config_is_collected():
    names = {p.name for p in RUNNABLE}
    assert {'clip4str-b16.py', 'clip4str-tiny_3k_synth.py', 'clip4str-b16_16e_real.py',
            'clip4str-h14_4e_rbu.py', 'dptr_pretrain_clip-b16_art.py',
            'dptr_finetune_vit-4x8_20e_real.py', 'dbnet_resnet18_fpnc_synth-scenes.py'} <= names
    assert set(RECIPE_GEOMETRY) <= names and set(REFERENCE_SIZES) <= names


@pytest.mark.parametrize('path', ALL_CONFIGS, ids=rel)
def test_config_parses(path):
    cfg = config(path)
    if not is_base(path):
        assert 'clip4str_plugin' in cfg.custom_imports['imports']
        assert cfg.custom_imports['allow_failed_imports'] is False
        assert cfg.default_scope == 'mmocr'
        assert 'model' in cfg


@pytest.mark.parametrize('path', RUNNABLE, ids=rel)
def test_config_builds(path, tmp_path, monkeypatch):
    """On the meta device (no memory, no init_weights), from an empty folder: the CLIP weights,
    ORP banks and checkpoints the configs name (relative paths) are never read."""
    monkeypatch.chdir(tmp_path)
    with torch.device('meta'):
        model = build_model(config(path).model)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    reference = REFERENCE_SIZES.get(RECIPE_GEOMETRY.get(path.name, path.name))
    if reference:
        want_total, want_trainable = reference
        assert abs(total - want_total) / want_total < 0.025, total
        assert abs(trainable - want_trainable) / want_trainable < 0.01, trainable
    else:
        assert total > 0


@pytest.mark.parametrize('name', ['clip4str-tiny.py', 'clip4str-tiny_3k_synth.py'])
def test_tiny_models_run(name):
    model = build_model(config(CONFIGS / 'clip4str' / name).model).eval()
    with torch.no_grad():
        feat = model.backbone(torch.randn(2, 3, 32, 128))
        cross, visual = model.decoder.decode(feat)
    assert feat.shape[::2] == (2, 128) and cross.shape[-1] == 95


def test_h14_runs_twenty_vision_heads():
    with torch.device('meta'):
        model = build_model(config(CONFIGS / 'clip4str' / 'clip4str-h14.py').model)
    assert model.backbone.visual.transformer.resblocks[0].attn.num_heads == 20


def test_recipes_build_the_released_geometry():
    """Sizes cannot tell B/16 from B/32 (1 % apart): the towers and the decoder must match."""
    def geometry(model):
        parts = model.backbone, model.decoder.text_encoder, model.decoder.decoder
        return [{k: v for k, v in part.items() if k != 'pretrained'} for part in parts]

    for recipe, variant in RECIPE_GEOMETRY.items():
        assert geometry(config(CONFIGS / 'clip4str' / recipe).model) == geometry(
            config(CONFIGS / 'clip4str' / variant).model), recipe


def _datasets(loader):
    dataset = loader['dataset']
    return dataset.get('datasets', [dataset])


@pytest.mark.parametrize('path', [p for p in RUNNABLE if 'train_cfg' in config(p)], ids=rel)
def test_schedule_length_is_stated_once(path):
    """MMEngine does not re-derive values from a child's variables: a recipe that changes its
    length must restate the loop and the one-cycle together."""
    cfg = config(path)
    length = cfg.train_cfg.get('max_epochs', cfg.train_cfg.get('max_iters'))
    by_epoch = 'max_epochs' in cfg.train_cfg
    for scheduler in cfg.param_scheduler:
        if 'total_steps' in scheduler:
            assert scheduler.total_steps == length, scheduler
            assert scheduler.by_epoch == by_epoch, scheduler
    helper = 'max_epochs' if by_epoch else 'max_iters'
    if helper in cfg:
        assert cfg[helper] == length


@pytest.mark.parametrize('path', [p for p in RUNNABLE if CONFIGS in p.parents
                                  and 'decoder' in config(p).model], ids=rel)
def test_label_length_is_one_value(path):
    cfg = config(path)
    max_len = cfg.model.decoder.max_seq_len
    assert max_len == cfg.max_label_length
    if 'encoder' in cfg.model and 'num_queries' in cfg.model.encoder:
        assert cfg.model.encoder.num_queries == max_len + 1   # the characters and [E]
    for split in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        for dataset in _datasets(cfg.get(split, dict(dataset={}))):
            prompt = [t for t in dataset.get('pipeline') or [] if t.type == 'PackCLIPPrompt']
            if prompt and prompt[0].get('caption_style') == 'spelled':
                # one token a character: the corpus keeps the labels whose prompt fits
                fits = prompt[0].context_length - 2
                assert dataset.max_label_length == fits <= max_len, (split, dataset)
                continue
            assert dataset.get('max_label_length', max_len) == max_len, (split, dataset)
    dict_file = cfg.model.decoder.dictionary.dict_file
    # a shipped dictionary named (docs/charsets.md)
    if path.name == 'clip4str-tiny_3k_synth-greek.py':
        assert dict_file == 'charset_greek.txt'
    else:
        assert dict_file.endswith('clip4str_plugin/dicts/charset_94.txt')


@pytest.mark.parametrize('path', [p for p in RUNNABLE if 'test_dataloader' in config(p)
                                  and 'input_size' in config(p)], ids=rel)
def test_evaluation_pipelines_resize_to_the_input_size(path):
    """tools/benchmark.py reads input_size; evaluation never augments."""
    cfg = config(path)
    for split in ('val_dataloader', 'test_dataloader'):
        if split not in cfg:
            continue
        pipeline = cfg[split].dataset.pipeline
        assert not any(t.type == 'PARSeqRandAugment' for t in pipeline), split
        for t in pipeline:
            if t.type == 'Resize':
                assert tuple(t.scale) == tuple(cfg.input_size), split


def test_scene_job_trains_on_broad_words_and_scene_crops(tmp_path, monkeypatch):
    """clip4str-tiny_20min_synth-scene.py: one training set of the two LMDBs tools/main_job.py
    renders (train: broad words, train_scene: scene crops), through the broad job's pipeline."""
    from mmocr.registry import DATASETS

    from clip4str_plugin.datasets.lmdb_io import write_lmdb
    from clip4str_plugin.synth.word_renderer import render_samples
    labels = []
    for folder, scene, num in (('train', False, 3), ('train_scene', True, 2)):
        samples = render_samples('train', num, int(scene), scene=scene, fonts='sans')
        write_lmdb(str(tmp_path / folder), samples)
        labels += [label for _, label in samples]
    monkeypatch.setenv('SCENE_DATA_ROOT', str(tmp_path))
    cfg = load_config(CONFIGS / 'clip4str' / 'clip4str-tiny_20min_synth-scene.py')
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    samples = [dataset[i] for i in range(len(dataset))]
    assert [s['data_samples'].gt_text.item for s in samples] == labels
    assert all(tuple(s['inputs'].shape) == (3, 32, 128) for s in samples)
    assert [d['name'] for d in cfg.train_dataloader.dataset.datasets] == ['mix-train',
                                                                         'mix-train-scene']
    assert cfg.test_evaluator.dataset_prefixes == ['mix-test', 'mix-test-faces',
                                                   'mix-test-families', 'mix-test-scene',
                                                   'mix-test-photo']


@pytest.mark.parametrize('clip', ['shipped', 'none'])
def test_main_job_freezes_the_pretrained_text_tower(clip, monkeypatch):
    """The main job's text tower trains only its final norm and projection when it starts from
    the shipped CLIP; from random towers (CLIP_PRETRAINED=none) its second block trains too. The
    image tower trains whole either way."""
    monkeypatch.setenv('CLIP_PRETRAINED', clip)
    cfg = load_config(CONFIGS / 'clip4str' / 'clip4str-tiny_20min_synth-scene.py')
    with torch.device('meta'):
        model = build_model(cfg.model)

    def owner(name):     # 'transformer.resblocks.1.attn.in_proj_weight' -> its block
        return '.'.join(name.split('.')[:3]) if name.startswith('transformer.') else name

    trainable = {owner(name) for name, p in model.decoder.text_encoder.text.named_parameters()
                 if p.requires_grad}
    want = {'ln_final.weight', 'ln_final.bias', 'text_projection'}
    if clip == 'none':
        want.add('transformer.resblocks.1')
    assert trainable == want
    assert all(p.requires_grad for p in model.backbone.parameters())


# --------------------------------------------------------------------------- dist scripts

FAKE_PYTHON = '#!/usr/bin/env bash\nprintf "%s\\0" "$0" "$@"\n'


def fake_python(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(FAKE_PYTHON)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


# an existing config: the scripts refuse a missing one before launching
TINY = str(ROOT / 'configs' / 'clip4str' / 'clip4str-tiny.py')


def run_script(name, *args, **env):
    """The command the script would exec: the interpreter, then its arguments."""
    out = subprocess.run(['bash', str(ROOT / 'tools' / name), *args], capture_output=True,
                         text=True, timeout=60, env={**os.environ, **env})
    assert out.returncode == 0, out.stderr
    return out.stdout.split('\0')[:-1]


def torchrun(nproc, nnodes='1', node_rank='0', addr='127.0.0.1', port='29500'):
    return ['-m', 'torch.distributed.run', f'--nnodes={nnodes}', f'--node_rank={node_rank}',
            f'--master_addr={addr}', f'--master_port={port}', f'--nproc_per_node={nproc}']


def test_dist_train_command(tmp_path):
    python = fake_python(tmp_path / 'python')
    got = run_script('dist_train.sh', TINY, '8', '--amp', '--cfg-options', 'a=b c',
                     PYTHON=str(python))
    assert got == [str(python), *torchrun('8'), str(ROOT / 'tools' / 'train.py'),
                   TINY, '--launcher', 'pytorch', '--amp', '--cfg-options', 'a=b c']


def test_dist_test_command_on_several_nodes(tmp_path):
    python = fake_python(tmp_path / 'python')
    got = run_script('dist_test.sh', TINY, 'ckpt.pth', '2', '--reference-norm',
                     PYTHON=str(python), NNODES='2', NODE_RANK='1', MASTER_ADDR='10.0.0.1',
                     PORT='29511')
    assert got == [str(python), *torchrun('2', '2', '1', '10.0.0.1', '29511'),
                   str(ROOT / 'tools' / 'test.py'), TINY, 'ckpt.pth',
                   '--launcher', 'pytorch', '--reference-norm']


def test_dist_scripts_default_to_the_project_venv(tmp_path):
    venv_python = fake_python(tmp_path / 'venv' / 'bin' / 'python')
    env = {k: v for k, v in os.environ.items() if k != 'PYTHON'}
    out = subprocess.run(['bash', str(ROOT / 'tools' / 'dist_train.sh'), TINY, '1'],
                         capture_output=True, text=True, timeout=60,
                         env={**env, 'CLIP4STR_VENV': str(tmp_path / 'venv')})
    assert out.stdout.split('\0')[0] == str(venv_python), out.stderr
    # no venv there: python3 from PATH
    path_python3 = fake_python(tmp_path / 'bin' / 'python3')
    out = subprocess.run(['bash', str(ROOT / 'tools' / 'dist_test.sh'), TINY, 'k.pth', '1'],
                         capture_output=True, text=True, timeout=60,
                         env={**env, 'CLIP4STR_VENV': str(tmp_path / 'none'),
                              'PATH': f'{tmp_path / "bin"}{os.pathsep}{env["PATH"]}'})
    assert out.stdout.split('\0')[0] == str(path_python3), out.stderr


@pytest.mark.parametrize('name, args', [('dist_train.sh', ['c.py']),
                                        ('dist_test.sh', ['c.py', 'k.pth']),
                                        ('dist_launch.sh', ['tools/train.py'])])
def test_dist_scripts_print_their_usage(name, args):
    out = subprocess.run(['bash', str(ROOT / 'tools' / name), *args], capture_output=True,
                         text=True, timeout=60, env={**os.environ, 'PYTHON': 'false'})
    assert out.returncode == 2 and 'usage:' in out.stderr
