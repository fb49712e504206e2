"""The main job: rendered words -> training -> evaluation -> table.

    python tools/main_job.py [--work-dir work_dirs/main_job] [--data-root DIR] [--budget-min 20]
    python tools/main_job.py --from-scratch     (the same job from random towers and decoders)
    python tools/main_job.py --preset broad     (flat rendered words only)
    python tools/main_job.py --preset sans      (the easy grey-level job, trained from scratch)

1. Renders (in this process, as ``tools/make_synth_lmdb.py --preset P`` does) the train / val /
   test LMDBs of the job's rendering presets (val and test words never occur in train), and cuts
   the word crops of a real photograph (``test_photo``, never trained on:
   :mod:`clip4str_plugin.datasets.photo_words`); existing LMDBs made with the same settings are
   reused, others this tool made are made again, and a folder it did not make (the user's own
   data) is replaced only with ``--overwrite``.
2. ``tools/train.py CONFIG`` trains the tiny CLIP4STR through the MMEngine Runner.
3. ``tools/test.py`` evaluates the final checkpoint on the held-out sets and prints the table.

Jobs (:data:`JOBS`, chosen by ``--preset``; default :data:`DEFAULT_PRESET`):

* ``scene`` (the default) -- clip4str-tiny_20min_synth-scene.py on 30 000 flat words of the
  ``broad`` preset (colour words of 3-12 letters and letter-digit strings in 9 font families) and
  30 000 scene-text crops of other words (the ``scene`` preset: photo backgrounds, font effects,
  curvature, perspective, neighbouring text, camera degradations; docs/synthetic_data.md)
  (data/scene_job), started from the small CLIP shipped in assets/clip and its decoders from the
  DPTR decoder shipped in assets/dptr (``--from-scratch``: random towers and decoders); tested on
  held-out words, the same words in held-out faces and families, scene crops of held-out words
  and the photo's words (docs/benchmarks.md). The whole job has ``--budget-min`` minutes: the
  config's TimeBudgetHook measures the first iterations (and which torch thread count is faster),
  sets the iteration count that ends training in time for the evaluation (a run that fits fewer
  than 4 300 trains at up to 1.5x the learning rate: ``short_run_lr``), and the evaluation runs
  with that thread count. It trains under bf16 autocast where that is faster (``amp='auto'``: a GPU,
  or a CPU with AMX / AVX-512 BF16, where a bf16 training step is about 2x fp32), else in fp32 (bf16
  is emulated on AVX2 CPUs and several times slower).
* ``broad`` -- the same on 60 000 flat words and without the scene tests;
  clip4str-tiny_20min_synth-broad.py (data/broad_job).
* ``sans`` -- the easy job: DejaVu Sans, grey levels, 2-6 letter words; clip4str-tiny_3k_synth.py
  from scratch, 3 000 iterations with bf16 autocast (docs/benchmarks.md#main-job).

Each step is an ordinary command, printed before it runs.
"""
import argparse
import functools
import json
import os
import os.path as osp
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(ROOT, 'tools'))
from make_synth_lmdb import preset_render_options, render_lmdb  # noqa: E402

from clip4str_plugin.cli.checks import check_at_most, check_positive  # noqa: E402
from clip4str_plugin.datasets.lmdb_io import tool_writer  # noqa: E402
from clip4str_plugin.datasets.photo_words import PAGE_WORDS, page_word_crops  # noqa: E402
from clip4str_plugin.fileio import write_atomically  # noqa: E402
from clip4str_plugin.synth.word_renderer import encode_image  # noqa: E402

SEED = 0
#: Written into every LMDB folder this tool renders (its settings): only such folders are
#: replaced or reused without ``--overwrite``.
MARKER = 'made_with.json'
#: The preset name of the real word crops (cut from a photograph, not rendered).
PHOTO = 'page-photo'
# (LMDB folder, split of its words, images, rendering preset[, seed offset]) of each job's data
# (sets with another seed offset draw other words); the config reads the data root from
# data_env and, with test_sets_env, which test sets exist
JOBS = {
    'sans': dict(
        config='configs/clip4str/clip4str-tiny_3k_synth.py', data_env='SYNTH_DATA_ROOT',
        data_root='data/synth', prefix='synth-', amp=True, budget=False, clip=None,
        sets=[('train', 'train', 60000, 'sans'), ('val', 'val', 500, 'sans'),
              ('test', 'test', 2000, 'sans')]),
    'broad': dict(
        config='configs/clip4str/clip4str-tiny_20min_synth-broad.py', data_env='BROAD_DATA_ROOT',
        data_root='data/broad_job', prefix='broad-', amp='auto', budget=True, clip='shipped',
        test_sets_env='BROAD_TEST_SETS',
        sets=[('train', 'train', 60000, 'broad'), ('val', 'val', 500, 'broad'),
              ('test', 'test', 2000, 'broad'), ('test_faces', 'test', 2000, 'broad-faces'),
              ('test_families', 'test', 2000, 'broad-families'),
              ('test_photo', 'test', None, PHOTO)]),
    # the broad job's words and tests plus scene-text crops of other words (seed + 1), in training
    # and as a test set; half and half: docs/benchmarks.md, "Scene crops in training"
    'scene': dict(
        config='configs/clip4str/clip4str-tiny_20min_synth-scene.py', data_env='SCENE_DATA_ROOT',
        data_root='data/scene_job', prefix='mix-', amp='auto', budget=True, clip='shipped',
        test_sets_env='SCENE_TEST_SETS',
        sets=[('train', 'train', 30000, 'broad'), ('train_scene', 'train', 30000, 'scene', 1),
              ('val', 'val', 500, 'broad'), ('val_scene', 'val', 500, 'scene', 1),
              ('test', 'test', 2000, 'broad'), ('test_faces', 'test', 2000, 'broad-faces'),
              ('test_families', 'test', 2000, 'broad-families'),
              ('test_scene', 'test', 2000, 'scene', 1), ('test_photo', 'test', None, PHOTO)]),
}
#: The job of ``tools/run_main.sh`` (docs/benchmarks.md, "Main job").
DEFAULT_PRESET = 'scene'
# the largest counts and budgets taken (a larger one is a typo, not a job)
LIMITS = {'--train-images': 10_000_000, '--test-images': 1_000_000,
          '--budget-min': 7 * 24 * 60, '--train-budget-s': 7 * 24 * 3600}
# seconds a budgeted job keeps for the evaluation (tools/test.py: start-up, 6 000 images) and
# the start-up of training before its first iteration
EVAL_RESERVE_S = 75


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--preset', choices=list(JOBS), default=DEFAULT_PRESET,
                        help='the job: its rendering preset, config and schedule')
    parser.add_argument('--work-dir', default='work_dirs/main_job')
    parser.add_argument('--data-root', help="default: the job's data_env variable, else "
                        'data/broad_job (broad), data/scene_job (scene) or data/synth (sans)')
    parser.add_argument('--budget-min', type=float,
                        help='budgeted jobs: minutes for the whole job (rendering, training, '
                             'evaluation; default 20)')
    parser.add_argument('--train-budget-s', type=float,
                        help='budgeted jobs: seconds of training instead of what the job budget '
                             'leaves (to compare runs on data rendered once)')
    parser.add_argument('--from-scratch', action='store_true',
                        help='random CLIP towers instead of the shipped CLIP (broad)')
    parser.add_argument('--train-images', type=int, help="training images (default: the job's)")
    parser.add_argument('--test-images', type=int, help="images per test set (default: the job's)")
    parser.add_argument('--overwrite', action='store_true',
                        help=f'replace LMDBs under the data root that this tool did not make '
                        f'(folders without {MARKER})')
    args = parser.parse_args(argv)
    job = JOBS[args.preset]
    if not job['budget'] and (args.train_budget_s or args.budget_min) is not None:
        parser.error(f'--budget-min / --train-budget-s: the {args.preset} job trains '
                     f'{osp.basename(job["config"])} for its fixed iteration count; a time '
                     'budget needs --preset broad or scene')
    if job['budget'] and args.budget_min is None:
        args.budget_min = 20.0
    check_counts(args)
    return args


def check_counts(args) -> None:
    """Image counts and time budgets: positive and at most :data:`LIMITS` (one line, exit 1)."""
    for option, limit in LIMITS.items():
        value = getattr(args, option[2:].replace('-', '_'))
        if value is not None and option.endswith('-images'):
            check_positive(option, value)
            check_at_most(option, value, limit, 'each image is rendered before training starts')
        elif value is not None:
            check_at_most(option, value, limit, 'one week')


def training_amp(job: dict) -> bool:
    """Whether ``tools/train.py`` gets ``--amp``: the job's ``amp``, where ``'auto'`` means
    where mixed precision is native (CUDA; CPUs with AMX / AVX-512 BF16)."""
    if job['amp'] != 'auto':
        return bool(job['amp'])
    import torch
    from clip4str_plugin.compute.cpu import describe_cpu
    from clip4str_plugin.compute.precision import bf16_is_fast, bf16_reason
    amp = torch.cuda.is_available() or bf16_is_fast('cpu')
    print(f"training precision: {'mixed (--amp)' if amp else 'fp32'} (amp='auto'; "
          f"{'CUDA' if torch.cuda.is_available() else bf16_reason('cpu')}; "
          f"CPU: {describe_cpu()})")
    return amp


def run(cmd, env=None):
    print('\n$ ' + ' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True, env=env)


def make_data(job: dict, root: str, num_train=None, num_test=None, overwrite=False) -> list:
    """Render (or reuse) the job's sets in this process; returns the test folders. A folder
    this tool did not make (no :data:`MARKER`) is replaced only with ``overwrite``."""
    tests = []
    for folder, split, num, preset, *offset in job['sets']:
        out = osp.join(root, folder)
        tests += [folder] if split == 'test' else []
        if preset == PHOTO:     # real word crops: cut, not rendered
            settings = dict(split=split, num=len(PAGE_WORDS), preset=preset)
            make = functools.partial(write_photo_lmdb, out)
        else:
            num = (num_train and round(num_train * num / _train_images(job)) if split == 'train'
                   else num_test if split == 'test' else None) or num
            seed = SEED + sum(offset)
            options = preset_render_options(preset)
            settings = dict(split=split, num=num, seed=seed, preset=preset,
                            fonts=sorted(osp.basename(f) for f in options['fonts']))
            make = functools.partial(render, out, split, num, seed, preset, options)
        stamp = osp.join(out, MARKER)
        if osp.isfile(stamp):
            if _read_stamp(stamp) == settings:
                print(f'reusing {out}')
                continue
        elif osp.isdir(out) and os.listdir(out) and not overwrite:
            raise SystemExit(f'error: {out} holds data that tools/main_job.py did not make (no '
                             f'{MARKER}); give another --data-root, or --overwrite to replace '
                             'its LMDB')
        # marked before rendering: an interrupted rendering is this tool's to redo
        write_atomically(stamp, json.dumps(dict(settings, complete=False)).encode())
        make()
        write_atomically(stamp, json.dumps(settings).encode())
    return tests


def render(out: str, split: str, num: int, seed: int, preset: str, options: dict) -> None:
    print(f'\n# tools/make_synth_lmdb.py {out} --split {split} --num {num} --seed {seed} '
          f'--preset {preset} --overwrite', flush=True)
    render_lmdb(out, split, num, seed, options, overwrite=True)


def write_photo_lmdb(out: str) -> None:
    """The word crops of scikit-image's page photograph (:mod:`clip4str_plugin.datasets.
    photo_words`) as an LMDB of PNG images."""
    with tool_writer(out, overwrite=True) as writer:
        for crop, label in page_word_crops():
            writer.add(encode_image(crop, rng=None, jpeg=False), label)
    print(f'wrote {writer.count} word crops of a photograph to {out}')


def _train_images(job: dict) -> int:
    """The job's training images in all (``--train-images`` keeps the sets' proportions)."""
    return sum(num for _, split, num, *_ in job['sets'] if split == 'train')


def _read_stamp(path: str):
    """The settings recorded in a :data:`MARKER` file (None when it cannot be read)."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def main():
    args = parse_args()
    job = JOBS[args.preset]
    data_root = args.data_root or os.environ.get(job['data_env'], job['data_root'])
    config = osp.join(ROOT, job['config'])
    job_start = time.time()
    times = {}
    tests = make_data(job, data_root, args.train_images, args.test_images, args.overwrite)
    times['data'] = time.time() - job_start
    env = dict(os.environ, **{job['data_env']: osp.abspath(data_root)})
    if job.get('test_sets_env'):
        env[job['test_sets_env']] = ','.join(tests)
    clip = job['clip'] and ('none' if args.from_scratch else job['clip'])
    if clip:    # the shipped CLIP and DPTR decoder (the config's defaults), or neither
        env['CLIP_PRETRAINED'] = env['DPTR_DECODER'] = clip

    start = time.time()
    options = []
    if job['budget']:     # the TimeBudgetHook (custom_hooks.0) ends training in time
        budget = args.train_budget_s or (args.budget_min * 60 - EVAL_RESERVE_S
                                         - (start - job_start))
        if budget < 60:
            print(f'warning: only {budget:.0f} s left for training; training 60 s anyway')
            budget = 60.0
        print(f'\ntraining budget: {budget:.0f} s (job budget {args.budget_min:.1f} min, '
              f'{start - job_start:.0f} s used by the data, {EVAL_RESERVE_S} s kept for the '
              'evaluation)')
        options = ['--cfg-options', f'custom_hooks.0.budget_s={budget:.1f}',
                   f'custom_hooks.0.start_time={start:.3f}']
    run([sys.executable, osp.join(ROOT, 'tools', 'train.py'), config, '--work-dir',
         args.work_dir] + (['--amp'] if training_amp(job) else []) + options, env)
    times['training'] = time.time() - start
    with open(osp.join(args.work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    record = osp.join(args.work_dir, 'time_budget.json')
    if job['budget'] and osp.isfile(record):
        with open(record) as f:
            threads = json.load(f)['threads']
        # the thread count training found faster (two threads that wait for each other lose
        # badly on a shared machine) also serves the evaluation
        env['OMP_NUM_THREADS'] = str(threads)
        print(f'evaluation with {threads} thread(s), as measured by the training run')

    start = time.time()
    run([sys.executable, osp.join(ROOT, 'tools', 'test.py'), config, checkpoint, '--work-dir',
         args.work_dir], env)
    times['evaluation'] = time.time() - start

    with open(osp.join(args.work_dir, 'test_results.json')) as f:
        results = json.load(f)
    lines = []
    for folder in tests:
        name = job['prefix'] + folder.replace('_', '-')
        accuracy = results[f'{name}/str/accuracy']
        visual = results.get(f'{name}/str-visual/accuracy')
        lines.append(f'  {name}: word accuracy {100 * accuracy:.2f} % (36-character protocol'
                     + (f'; visual branch alone {100 * visual:.2f} %' if visual is not None
                        else '') + ')')
    start_from = ('from scratch' if not clip or clip == 'none' else
                  'from the shipped CLIP and DPTR decoder')
    summary = ', '.join(f'{k} {v / 60:.1f} min' for k, v in times.items())
    print(f'\nmain job done ({args.preset} preset, {start_from}; {summary}; total '
          f'{sum(times.values()) / 60:.1f} min):\n' + '\n'.join(lines))
    print(f'\nthe model in the browser demo (docs/demo.md):\n$ {sys.executable} '
          f'{osp.join(ROOT, "tools", "demo.py")} --checkpoint {checkpoint} --config {config}')


if __name__ == '__main__':
    main()
