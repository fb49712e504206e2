"""tools/main_job.py: the default job is the scene one (its 20-minute budget, the shipped CLIP,
broad words and scene crops; the easy sans job has no budget); data rendered in-process, reused when
made with the same settings, optional sets skipped; the broad job's commands carry the budget, the
CLIP choice, the test sets that exist and the thread count training measured."""
import importlib.util
import json

import pytest

from clip4str_plugin.datasets.lmdb_io import iter_labels, write_lmdb
from clip4str_plugin.synth.word_presets import preset_options
from clip4str_plugin.synth.word_renderer import render_samples
from conftest import ROOT


@pytest.fixture
def main_job(monkeypatch):
    monkeypatch.setattr('sys.path', list(__import__('sys').path))
    spec = importlib.util.spec_from_file_location('main_job', ROOT / 'tools' / 'main_job.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_default_job_is_the_scene_one(main_job, capsys):
    args = main_job.parse_args([])
    assert args.preset == 'scene' and args.budget_min == 20.0
    broad = main_job.JOBS['broad']
    assert broad['config'] == 'configs/clip4str/clip4str-tiny_20min_synth-broad.py'
    assert broad['budget'] and broad['clip'] == 'shipped'
    assert broad['data_root'] == 'data/broad_job' and broad['amp'] == 'auto'
    assert broad['sets'][:2] == [('train', 'train', 60000, 'broad'), ('val', 'val', 500, 'broad')]
    assert [s[0] for s in broad['sets'][2:]] == ['test', 'test_faces', 'test_families',
                                                 'test_photo']
    sans = main_job.JOBS['sans']
    assert sans['config'] == 'configs/clip4str/clip4str-tiny_3k_synth.py'
    assert sans['amp'] and not sans['budget'] and sans['clip'] is None
    assert sans['sets'] == [('train', 'train', 60000, 'sans'), ('val', 'val', 500, 'sans'),
                            ('test', 'test', 2000, 'sans')]
    with pytest.raises(SystemExit):
        main_job.parse_args(['--preset', 'sans', '--train-budget-s', '300'])
    assert ('error: --budget-min / --train-budget-s: the sans job trains '
            'clip4str-tiny_3k_synth.py for its fixed iteration count; a time budget needs '
            '--preset broad or scene') in capsys.readouterr().err


def test_scene_job_adds_scene_crops_of_other_words(main_job, tmp_path):
    """The scene job: the broad job's start and budget, half of its training images scene
    crops drawn with another seed (other words than the broad set's), a scene test set;
    --train-images keeps the proportions."""
    job = main_job.JOBS['scene']
    assert job['config'] == 'configs/clip4str/clip4str-tiny_20min_synth-scene.py'
    assert job['budget'] and job['clip'] == 'shipped' and job['amp'] == 'auto'
    assert job['data_root'] == 'data/scene_job'
    assert [s[:4] for s in job['sets'] if s[1] == 'train'] == [
        ('train', 'train', 30000, 'broad'), ('train_scene', 'train', 30000, 'scene')]
    assert [s[0] for s in job['sets'] if s[1] == 'test'] == [
        'test', 'test_faces', 'test_families', 'test_scene', 'test_photo']
    small = dict(sets=[s for s in job['sets'] if s[1] == 'train'])
    assert main_job.make_data(small, str(tmp_path), num_train=6) == []
    broad = [label for _, label in iter_labels(str(tmp_path / 'train'))]
    scene = [label for _, label in iter_labels(str(tmp_path / 'train_scene'))]
    assert len(broad) == len(scene) == 3 and not set(broad) & set(scene)
    # make_synth_lmdb's chunk seed of seed 1 (SEED + the set's offset)
    assert scene == [label for _, label in render_samples('train', 3, 1_000_003,
                                                          **preset_options('scene'))]


def test_make_data_renders_and_reuses(main_job, tmp_path, monkeypatch, capsys):
    job = dict(sets=[('train', 'train', 4, 'sans'), ('test_faces', 'test', 50, 'broad-faces'),
                     ('test_families', 'test', 50, 'broad-families')])
    tests = ['test_faces', 'test_families']
    assert main_job.make_data(job, str(tmp_path), num_test=3) == tests
    labels = [label for _, label in iter_labels(str(tmp_path / 'test_faces'))]
    assert labels == [label for _, label in render_samples('test', 3, 0,
                                                           **preset_options('broad-faces'))]
    assert len(list(iter_labels(str(tmp_path / 'test_families')))) == 3
    assert main_job.make_data(job, str(tmp_path), num_test=3) == tests
    assert f'reusing {tmp_path / "train"}' in capsys.readouterr().out
    # other settings: rendered again over the old LMDB
    assert main_job.make_data(job, str(tmp_path), num_test=2) == tests
    assert len(list(iter_labels(str(tmp_path / 'test_faces')))) == 2


def test_photo_set_holds_the_page_words(main_job, tmp_path, capsys):
    """test_photo: the word crops of a real photograph, cut (not rendered) whatever
    --test-images says, and reused."""
    import cv2
    import numpy as np

    from clip4str_plugin.datasets.lmdb_io import open_lmdb
    from clip4str_plugin.datasets.photo_words import PAGE_WORDS, page_word_crops
    job = dict(sets=[('test_photo', 'test', None, main_job.PHOTO)])
    assert main_job.make_data(job, str(tmp_path), num_test=3) == ['test_photo']
    assert [label for _, label in iter_labels(str(tmp_path / 'test_photo'))] == \
        [word[-1] for word in PAGE_WORDS]
    assert 'wrote 45 word crops of a photograph' in capsys.readouterr().out
    with open_lmdb(str(tmp_path / 'test_photo')).begin() as txn:      # stored losslessly
        first = cv2.imdecode(np.frombuffer(txn.get(b'image-000000001'), np.uint8),
                             cv2.IMREAD_COLOR)[..., ::-1]
    assert np.array_equal(first, page_word_crops()[0][0])
    main_job.make_data(job, str(tmp_path))
    assert f'reusing {tmp_path / "test_photo"}' in capsys.readouterr().out


def test_broad_job_commands(main_job, tmp_path, monkeypatch, capsys):
    """The two commands the broad job runs (recorded here; tools/train.py and test.py are
    tested on their own), given what they would leave in the work dir."""
    work = tmp_path / 'work'
    monkeypatch.setattr(main_job, 'make_data', lambda *args: ['test', 'test_faces'])
    calls = []

    def run(cmd, env=None):
        calls.append((cmd, env))
        work.mkdir(exist_ok=True)
        if cmd[1].endswith('train.py'):
            (work / 'last_checkpoint').write_text(str(work / 'iter_7.pth'))
            (work / 'time_budget.json').write_text(json.dumps(dict(threads=1)))
        else:
            (work / 'test_results.json').write_text(json.dumps({
                'broad-test/str/accuracy': 0.5, 'broad-test/str-visual/accuracy': 0.25,
                'broad-test-faces/str/accuracy': 0.125}))

    monkeypatch.setattr(main_job, 'run', run)
    monkeypatch.setattr('torch.cuda.is_available', lambda: False)
    monkeypatch.setattr('clip4str_plugin.compute.precision.bf16_is_fast', lambda device: False)
    monkeypatch.setattr('sys.argv', ['main_job.py', '--preset', 'broad', '--from-scratch',
                                     '--work-dir', str(work), '--train-budget-s', '90',
                                     '--data-root', str(tmp_path / 'data')])
    main_job.main()
    (train, train_env), (test, test_env) = calls
    broad = ROOT / 'configs/clip4str/clip4str-tiny_20min_synth-broad.py'
    assert train[2:] == [str(broad), '--work-dir',
                         str(work), '--cfg-options', 'custom_hooks.0.budget_s=90.0',
                         train[-1]] and train[-1].startswith('custom_hooks.0.start_time=')
    assert train_env['CLIP_PRETRAINED'] == train_env['DPTR_DECODER'] == 'none'
    assert train_env['BROAD_TEST_SETS'] == \
        'test,test_faces' and train_env['BROAD_DATA_ROOT'] == str(tmp_path / 'data')
    assert test[2:] == [str(ROOT / 'configs/clip4str/clip4str-tiny_20min_synth-broad.py'),
                        str(work / 'iter_7.pth'), '--work-dir', str(work)]
    assert test_env['OMP_NUM_THREADS'] == '1'
    out = capsys.readouterr().out
    assert 'main job done (broad preset, from scratch;' in out
    assert ('  broad-test: word accuracy 50.00 % (36-character protocol; visual branch alone '
            '25.00 %)\n  broad-test-faces: word accuracy 12.50 % (36-character protocol)') in out
    demo = ROOT / 'tools' / 'demo.py'   # the command that opens the model in the browser demo
    assert out.endswith(f"{demo} --checkpoint {work / 'iter_7.pth'} --config "
                        f"{ROOT / 'configs/clip4str/clip4str-tiny_20min_synth-broad.py'}\n")


@pytest.mark.parametrize('native', [True, False])
def test_broad_job_trains_in_bf16_only_where_it_is_native(main_job, monkeypatch, capsys, native):
    """amp='auto': --amp on a CPU with native bf16 (AMX / AVX-512 BF16), fp32 on one that
    emulates it; the sans job always trains with --amp."""
    monkeypatch.setattr('torch.cuda.is_available', lambda: False)
    monkeypatch.setattr('clip4str_plugin.compute.precision.bf16_is_fast', lambda device: native)
    monkeypatch.setattr('clip4str_plugin.compute.precision.bf16_reason', lambda device: 'why')
    assert main_job.training_amp(main_job.JOBS['broad']) is native
    out = capsys.readouterr().out
    assert out.startswith('training precision: ' + ('mixed (--amp)' if native else 'fp32')
                          + " (amp='auto'; why; CPU: ")
    assert main_job.training_amp(main_job.JOBS['sans']) is True


def test_make_data_never_replaces_data_it_did_not_make(main_job, tmp_path, capsys):
    job = dict(sets=[('train', 'train', 3, 'sans')])
    own = tmp_path / 'train'
    write_lmdb(str(own), [(b'not an image', 'mine')])       # the user's own LMDB
    before = (own / 'data.mdb').read_bytes()
    with pytest.raises(SystemExit) as refused:
        main_job.make_data(job, str(tmp_path))
    assert str(refused.value) == (
        f'error: {own} holds data that tools/main_job.py did not make (no made_with.json); give '
        'another --data-root, or --overwrite to replace its LMDB')
    assert (own / 'data.mdb').read_bytes() == before
    assert main_job.make_data(job, str(tmp_path), overwrite=True) == []
    assert len(list(iter_labels(str(own)))) == 3
    # marked before rendering: a rendering cut short is this tool's to redo, without asking
    (own / 'made_with.json').write_text('{"complete": false}')
    main_job.make_data(job, str(tmp_path))
    assert 'reusing' not in capsys.readouterr().out and len(list(iter_labels(str(own)))) == 3
    main_job.make_data(job, str(tmp_path))
    assert f'reusing {own}' in capsys.readouterr().out


@pytest.mark.parametrize('args, message', [
    (['--train-images', '0'], '--train-images must be a positive whole number, got 0'),
    (['--test-images', '-3'], '--test-images must be a positive whole number, got -3'),
    (['--train-images', '100000000'], '--train-images 100000000 is more than 10000000 (each '
     'image is rendered before training starts)'),
    (['--budget-min', '0'], '--budget-min must be a positive number, got 0.0'),
    (['--budget-min', 'nan'], '--budget-min must be a positive number, got nan'),
    (['--train-budget-s', '1e9'], '--train-budget-s 1000000000.0 is more than 604800 (one '
     'week)'),
])
def test_counts_and_budgets_are_checked(main_job, args, message):
    with pytest.raises(SystemExit) as done:
        main_job.parse_args(args)
    assert str(done.value.code) == f'error: {message}'
