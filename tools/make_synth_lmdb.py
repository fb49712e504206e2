"""Render words into a recognition LMDB (the embedded, download-free training / test data).

    python tools/make_synth_lmdb.py data/synth/train --split train --num 50000 --seed 0
    python tools/make_synth_lmdb.py data/synth/test --split test --num 2000 --seed 0
    python tools/make_synth_lmdb.py data/broad/train --split train --num 60000 --preset broad
    python tools/make_synth_lmdb.py data/scene/train --split train --num 60000 --preset scene
    python tools/make_synth_lmdb.py data/greek/train --split train --num 20000 --words el

``--words el``: Greek words (wordfreq) and random strings over the Greek letters of
clip4str_plugin/dicts/charset_greek.txt, drawn only with the fonts that have all its glyphs
(docs/charsets.md).

``--preset`` (clip4str_plugin.synth.word_presets) replaces the rendering options (fonts,
colours, lengths, distortions; ``scene``: scene-text crops, docs/synthetic_data.md).
Words of the val and test splits never occur in train (see clip4str_plugin.synth.words).
Rendering runs in ``--workers`` processes; the output is the same for any worker count. An
existing LMDB in ``out`` is replaced only with ``--overwrite``; an interrupted run leaves an LMDB
that does not load (it is marked incomplete).
"""
import argparse
import multiprocessing
import os
import signal
import time

from mmengine.utils import ProgressBar

import clip4str_mmcv_lite  # noqa: F401  (mmcv-lite: the mmcv._ext stand-in, before the plugin)
from clip4str_plugin.synth.errors import MissingExtraError
from clip4str_plugin.datasets.lmdb_io import tool_writer
from clip4str_plugin.cli.checks import check_positive
from clip4str_plugin.synth.word_presets import PRESETS, preset_options
from clip4str_plugin.synth.word_renderer import render_samples
from clip4str_plugin.synth.words import LANGUAGES, SPLITS

CHUNK = 500


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out', help='LMDB folder to create')
    parser.add_argument('--split', choices=SPLITS, default='train')
    parser.add_argument('--num', type=int, default=10000)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--random-fraction', type=float, default=0.2,
                        help='share of random strings over the 94 characters (with --words '
                             'el: the Greek letters and digits)')
    parser.add_argument('--max-len', type=int, default=12, help='longest label')
    parser.add_argument('--distort', type=float, default=0.25,
                        help='probability of each geometric / photometric variant')
    parser.add_argument('--fonts', choices=['all', 'upright', 'sans', 'system'], default='all',
                        help='all 16 package faces, the 6 upright DejaVu ones, DejaVu Sans '
                             'and Sans Bold, or also system fonts')
    parser.add_argument('--gray', action='store_true', help='grey levels only')
    parser.add_argument('--preset', choices=list(PRESETS),
                        help='a named rendering preset; replaces the rendering options above')
    parser.add_argument('--words', choices=LANGUAGES, default='en',
                        help='English words (web2) or Greek words (wordfreq; Greek random '
                             'strings, fonts that draw charset_greek.txt)')
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1)
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an LMDB that out already holds')
    return parser.parse_args()


def _render_chunk(job):
    split, start, count, seed, options = job
    # every chunk has its own seed, so the data does not depend on the worker count
    return render_samples(split, count, seed * 1_000_003 + start, **options)


def render_lmdb(out: str, split: str, num: int, seed: int, options: dict,
                workers: int = os.cpu_count() or 1, overwrite: bool = False) -> int:
    """Render ``num`` samples of ``split`` with ``render_samples`` ``options`` into the LMDB
    ``out`` (``tools/main_job.py`` calls this in its own process); returns the count written."""
    jobs = [(split, start, min(CHUNK, num - start), seed, options)
            for start in range(0, num, CHUNK)]
    start_time = time.time()
    # Ctrl-C reaches the workers too: they ignore it, and the main process stops them
    with tool_writer(out, overwrite) as writer, \
            multiprocessing.Pool(workers, signal.signal, (signal.SIGINT, signal.SIG_IGN)) as pool:
        progress = ProgressBar(num)
        for chunk in pool.imap(_render_chunk, jobs):
            for image, label in chunk:
                writer.add(image, label)
                progress.update()
    print(f'\nwrote {writer.count} {split} samples to {out} in {time.time() - start_time:.0f} s')
    return writer.count


def preset_render_options(preset: str):
    """The ``render_samples`` options of ``preset``, its fonts printed."""
    options = preset_options(preset)
    print(f'preset {preset}: {len(options["fonts"])} font faces: '
          + ', '.join(sorted(os.path.basename(f) for f in options['fonts'])))
    return options


def main():
    args = parse_args()
    check_positive('--num', args.num)
    check_positive('--workers', args.workers)
    options = dict(random_fraction=args.random_fraction, max_len=args.max_len,
                   distort=args.distort, gray=args.gray, fonts=args.fonts)
    try:
        if args.preset:
            options = preset_render_options(args.preset)
        options['language'] = args.words
        render_lmdb(args.out, args.split, args.num, args.seed, options, args.workers,
                    args.overwrite)
    except MissingExtraError as err:     # word lists or fonts of the synth extra not installed
        raise SystemExit(f'error: {err}') from None


if __name__ == '__main__':
    main()
