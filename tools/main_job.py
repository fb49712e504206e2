"""The main job on the embedded default: rendered words -> training -> evaluation -> table.

    python tools/main_job.py [--work-dir work_dirs/main_job] [--data-root data/synth]

1. ``tools/make_synth_lmdb.py`` renders train / val / test LMDBs (val and test words never occur
   in train); existing LMDBs made with the same settings are reused.
2. ``tools/train.py configs/clip4str/clip4str_tiny_synth.py --amp`` trains the tiny CLIP4STR
   from scratch through the MMEngine Runner, for the config's iteration budget.
3. ``tools/test.py`` evaluates the final checkpoint on the held-out test words and prints the
   table (the reference protocol and MMOCR's metrics).
Each step is an ordinary command, printed before it runs.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(ROOT, 'configs', 'clip4str', 'clip4str_tiny_synth.py')
SPLITS = dict(train=60000, val=500, test=2000)
SEED = 0
# The rendering preset of the demo (tools/make_synth_lmdb.py): DejaVu Sans and Sans Bold, grey
# levels (either polarity), every variant (rotation, curve, perspective, blur) with probability
# 0.1, dictionary words of 2-6 letters. Richer settings exist (more fonts, colours, random
# strings, longer words); a tiny model trained from scratch needs more than 20 CPU minutes there
# (docs/benchmarks.md#main-job).
RENDER = ['--fonts', 'sans', '--gray', '--distort', '0.1', '--max-len', '6',
          '--random-fraction', '0']


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/main_job')
    parser.add_argument('--data-root', default=os.environ.get('SYNTH_DATA_ROOT', 'data/synth'))
    return parser.parse_args()


def run(cmd, env=None):
    print('\n$ ' + ' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True, env=env)


def make_data(root: str) -> None:
    for split, num in SPLITS.items():
        out = osp.join(root, split)
        stamp = osp.join(out, 'made_with.json')
        settings = dict(split=split, num=num, seed=SEED, render=RENDER)
        if osp.isfile(stamp):
            with open(stamp) as f:
                if json.load(f) == settings:
                    print(f'reusing {out}')
                    continue
        if osp.exists(out):
            for name in os.listdir(out):
                os.remove(osp.join(out, name))
        run([sys.executable, osp.join(ROOT, 'tools', 'make_synth_lmdb.py'), out, '--split', split,
             '--num', str(num), '--seed', str(SEED)] + RENDER)
        with open(stamp, 'w') as f:
            json.dump(settings, f)


def main():
    args = parse_args()
    env = dict(os.environ, SYNTH_DATA_ROOT=osp.abspath(args.data_root))
    times = {}
    start = time.time()
    make_data(args.data_root)
    times['data'] = time.time() - start

    start = time.time()
    run([sys.executable, osp.join(ROOT, 'tools', 'train.py'), CONFIG, '--work-dir',
         args.work_dir, '--amp'], env)
    times['training'] = time.time() - start
    with open(osp.join(args.work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()

    start = time.time()
    run([sys.executable, osp.join(ROOT, 'tools', 'test.py'), CONFIG, checkpoint, '--work-dir',
         args.work_dir], env)
    times['evaluation'] = time.time() - start

    with open(osp.join(args.work_dir, 'test_results.json')) as f:
        results = json.load(f)
    accuracy = results['synth-test/str/accuracy']
    visual = results.get('synth-test/str-visual/accuracy')
    summary = ', '.join(f'{k} {v / 60:.1f} min' for k, v in times.items())
    print(f'\nmain job done: held-out word accuracy {100 * accuracy:.2f} % '
          f'(36-character protocol'
          + (f'; visual branch alone {100 * visual:.2f} %' if visual is not None else '')
          + f'); {summary}; total {sum(times.values()) / 60:.1f} min')


if __name__ == '__main__':
    main()
