"""A local browser page that reads the words in an image with a checkpoint and shows how.

    python tools/demo.py --checkpoint work_dirs/main_job/iter_3000.pth \\
        --config configs/clip4str/clip4str-tiny_20min_synth-scene.py
    # then open http://127.0.0.1:7860
    python tools/demo.py --checkpoint b16.pth --det DET_CFG --det-weights DET.pth --mode spotting

Upload an image (or pick one of the rendered samples in assets/samples) and read it either as
one word crop (``recognizer alone``) or as a scene (``spotting``: an MMOCR text detector finds the
words, projects/clip4str_spotting's TextSpotter crops them, boxes drawn). Per word the page shows
the answer, the visual branch's text (CLIP4STR), the confidences and an attention grid: a panel
per character, a row per branch (as tools/visualize_attention.py draws it). The model comes from
``--config`` or the config the checkpoint carries (read as data, never run); checkpoints load
weights-only. The paths can be changed in the page when it is served on the loopback address only
(the default); on another ``--host`` they are fixed by the command line. Needs the ``demo`` extra
(gradio; docs/demo.md).
"""
import argparse
import os
import os.path as osp
import sys
import traceback
from functools import lru_cache

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)       # projects.clip4str_spotting, as its tools do
import clip4str_mmcv_lite  # noqa: E402,F401  (mmcv-lite: the mmcv._ext stand-in, first)
import clip4str_plugin  # noqa: E402,F401  (registers the plugin for the configs)
from clip4str_plugin.apis import WordReader, build_recognizer  # noqa: E402
from clip4str_plugin.cli.norm_option import CHECKPOINT, add_norm_arg, apply_norm  # noqa: E402
from clip4str_plugin.weights.loading import checkpoint_config  # noqa: E402

SAMPLES = osp.join(ROOT, 'assets', 'samples')
ALONE, SPOTTING = 'recognizer alone', 'spotting'
LOOPBACK = ('127.0.0.1', 'localhost', '::1')
COLUMNS = ['#', 'text', 'confidence', 'visual branch', 'visual confidence', 'per character']


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--checkpoint', help='trained or converted recognizer checkpoint '
                        '(loaded at start; else given in the page)')
    parser.add_argument('--config', help="the recognizer's config (default: the checkpoint's own)")
    parser.add_argument('--det', help='detector config for spotting (e.g. DBNet)')
    parser.add_argument('--det-weights', help="the detector's checkpoint")
    parser.add_argument('--mode', choices=[ALONE, SPOTTING], default=ALONE,
                        help='the mode the page opens with')
    parser.add_argument('--device', help='cpu, cuda, cuda:1 ... (default: cuda if available)')
    parser.add_argument('--host', default='127.0.0.1', help='address to serve on')
    parser.add_argument('--port', type=int, default=7860)
    add_norm_arg(parser)
    return parser.parse_args(argv)


def recognizer_config(checkpoint: str, config: str, norm: str = CHECKPOINT):
    """``config``, or the config the checkpoint carries (read as data, never run), its crops
    normalised as ``--norm`` says."""
    from mmengine.config import Config
    cfg = Config.fromfile(config) if config else checkpoint_config(checkpoint)
    apply_norm(cfg.model, norm, checkpoint)
    return cfg


@lru_cache(maxsize=1)
def load_reader(checkpoint: str, config: str, device, norm: str = CHECKPOINT) -> WordReader:
    return WordReader(build_recognizer(checkpoint, recognizer_config(checkpoint, config, norm),
                                       device))


@lru_cache(maxsize=1)
def load_spotter(checkpoint: str, config: str, det: str, det_weights: str, device,
                 norm: str = CHECKPOINT):
    """(TextSpotter, a WordReader on the spotter's own recognizer)."""
    from projects.clip4str_spotting.clip4str_spotting import TextSpotter
    spotter = TextSpotter(det, recognizer_config(checkpoint, config, norm), det_weights or None,
                          checkpoint, device)
    return spotter, WordReader(spotter.recognizer)


def score_text(score) -> str:
    return '' if score is None or not np.isfinite(score) else f'{score:.3f}'


def word_rows(words) -> list:
    """A table row per word (:data:`COLUMNS`)."""
    rows = []
    for k, word in enumerate(words):
        chars = (' '.join(f'{c}:{s:.2f}' for c, s in zip(word.text, word.char_scores))
                 if word.text else f'(end):{word.char_scores[0]:.2f}')
        rows.append([k, word.text, score_text(word.score), word.visual_text or '',
                     score_text(word.visual_score), chars])
    return rows


def read_words(image, mode, checkpoint, config, det, det_weights, device=None,
               norm=CHECKPOINT):
    """The page's action: ``image`` (RGB) -> (the image with boxes or None, the table's rows,
    the words' attention grids stacked or None)."""
    if image is None:
        raise ValueError('upload an image or pick a sample first')
    if not checkpoint:
        raise ValueError('give a recognizer checkpoint (--checkpoint or the page)')
    if mode == SPOTTING and not det:
        raise ValueError('spotting needs a detector: give its config (--det or the page) and '
                         'weights, or read the image as one word (recognizer alone)')
    bgr = np.ascontiguousarray(image[..., ::-1])
    boxes = None
    if mode == SPOTTING:
        from projects.clip4str_spotting.clip4str_spotting import crop_text, draw
        spotter, reader = load_spotter(checkpoint, config, det, det_weights, device, norm)
        result = spotter(bgr)
        crops = [crop_text(bgr, p, spotter.rectify, spotter.crop_pad)
                 for p in result['polygons']]
        boxes = draw(bgr, result)[..., ::-1]
    else:
        reader, crops = load_reader(checkpoint, config, device, norm), [bgr]
    words = reader.read(crops)
    return boxes, word_rows(words), stack_pictures([w.attention for w in words])


def stack_pictures(pictures, gap: int = 8):
    """RGB pictures one under the other on white, ``gap`` rows apart; None for none."""
    pictures = [p for p in pictures if p is not None]
    if not pictures:
        return None
    width = max(p.shape[1] for p in pictures)
    rows = [np.pad(p, ((0, gap), (0, width - p.shape[1]), (0, 0)), constant_values=255)
            for p in pictures]
    return np.concatenate(rows)[:-gap]


def build_page(args, samples):
    """The gradio Blocks of the page (not launched)."""
    import gradio as gr

    def action(*inputs):
        try:
            return read_words(*inputs, device=args.device, norm=args.norm)
        except Exception as err:   # shown in the page as one line; the trace on the console
            traceback.print_exc()
            raise gr.Error(str(err).splitlines()[0] if str(err) else type(err).__name__)

    editable = args.host in LOOPBACK
    with gr.Blocks(title='clip4str_plugin demo', analytics_enabled=False) as page:
        gr.Markdown('## Read the words in an image (CLIP4STR / DPTR, MMOCR)')
        with gr.Row():
            with gr.Column():
                image = gr.Image(type='numpy', image_mode='RGB', label='image',
                                 sources=['upload', 'clipboard'], elem_id='image')
                mode = gr.Radio([ALONE, SPOTTING], value=args.mode, label='mode')
                button = gr.Button('Read', variant='primary', elem_id='read')
                with gr.Accordion('model', open=not args.checkpoint):
                    paths = [gr.Textbox(value, label=label, interactive=editable) for value, label
                             in ((args.checkpoint, 'recognizer checkpoint'),
                                 (args.config, "recognizer config (empty: the checkpoint's)"),
                                 (args.det, 'detector config (spotting)'),
                                 (args.det_weights, 'detector weights (spotting)'))]
                if samples:
                    gr.Examples([[s] for s in samples], inputs=image, label='rendered samples')
            with gr.Column():
                boxes = gr.Image(label='detected words', elem_id='boxes',
                                 visible=args.mode == SPOTTING)
                table = gr.Dataframe(headers=COLUMNS, label='words', elem_id='words',
                                     interactive=False)
        gr.Markdown("Attention per character: a grid per word in the table's order, a row per "
                    'branch')
        grids = gr.Image(show_label=False, elem_id='attention', format='png')
        mode.change(lambda chosen: gr.update(visible=chosen == SPOTTING), mode, boxes)
        button.click(action, [image, mode, *paths], [boxes, table, grids])
    return page


def main(argv=None):
    args = parse_args(argv)
    try:
        import gradio as gr
    except ImportError as err:
        if err.name != 'gradio':
            raise
        raise SystemExit("error: the demo needs gradio, the `demo` extra: pip install -e '.[demo]'"
                         ' (tools/install.sh installs it)')
    if args.checkpoint:            # a bad checkpoint or config fails here, not in the page
        try:
            load_reader(args.checkpoint, args.config, args.device, args.norm)
        except Exception as err:
            raise SystemExit(f'error: {str(err).splitlines()[0] if str(err) else err!r}')
    samples = sorted(osp.join(SAMPLES, n) for n in
                     (sorted(os.listdir(SAMPLES)) if osp.isdir(SAMPLES) else [])
                     if n.endswith('.png'))
    page = build_page(args, samples)
    theme = gr.themes.Default(font=['ui-sans-serif', 'system-ui', 'sans-serif'],
                              font_mono=['ui-monospace', 'monospace'])   # no web fonts
    page.launch(server_name=args.host, server_port=args.port, theme=theme,
                allowed_paths=[SAMPLES], footer_links=[])


if __name__ == '__main__':
    main()
