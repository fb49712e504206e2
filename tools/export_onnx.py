"""Export a CLIP4STR checkpoint to ONNX graphs for ONNX Runtime and OpenVINO.

    python tools/export_onnx.py configs/clip4str/clip4str-b16.py b16.pth deploy/b16 [--int8]
    python tools/test.py configs/clip4str/clip4str-b16.py deploy/b16 --backend onnxruntime

OUT_DIR gets the graphs (the two CLIP towers and, per decoder, its memory keys/values, the first
and the cached AR step, the teacher-forced refinement), ``dict.txt`` and ``manifest.json``
(geometry, dictionary, input size and normalisation, opset, the checkpoint's SHA-256).
``--int8`` also writes ``OUT_DIR/int8``: the same graphs dynamically quantised by ONNX Runtime.
The export is then checked on random images of the input size: the fp32 graphs against PyTorch
(strings, largest logit difference) and, with ``--int8``, int8 against fp32 (share of identical
strings, 1 - NED). A checkpoint or folder that cannot be used stops with one line, exit status 1.

The export is written into a hidden folder beside OUT_DIR and renamed into place when complete:
OUT_DIR holds one export, all of it (``--overwrite`` replaces the whole folder, ``int8/``
included). An existing OUT_DIR that is not an export is never replaced. A killed export leaves
its hidden folder, which the next export to OUT_DIR removes (``export_recognizer`` does all this).
"""
import argparse
import os.path as osp
import sys

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

import clip4str_mmcv_lite  # noqa: F401  (mmcv-lite: the mmcv._ext stand-in, before the plugin)
from clip4str_plugin.errors import DataError
from clip4str_plugin.deploy import CLIP4STRRunner, DeployError, export_recognizer
from clip4str_plugin.deploy.export import DEFAULT_OPSET, check_out_dir
from clip4str_plugin.deploy.manifest import MANIFEST
from clip4str_plugin.deploy.quantize import string_agreement
from clip4str_plugin.deploy.sessions import BACKENDS
from clip4str_plugin.cli.checks import check_config, check_output_dir
from clip4str_plugin.weights.errors import CheckpointError
from clip4str_plugin.weights.loading import check_checkpoint_file
from clip4str_plugin.weights.safe_loading import use_weights_only_loader


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('out_dir')
    parser.add_argument('--opset', type=int, default=DEFAULT_OPSET)
    parser.add_argument('--int8', action='store_true',
                        help='also write OUT_DIR/int8, dynamically quantised (ONNX Runtime)')
    parser.add_argument('--check-images', type=int, default=4,
                        help='random images the export is checked on (0: no check)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace the export in OUT_DIR (the whole folder)')
    return parser.parse_args()


def build_model(cfg: Config, checkpoint: str):
    from mmocr.registry import MODELS
    model = MODELS.build(cfg.model)
    load_checkpoint(model, check_checkpoint_file(checkpoint), map_location='cpu')
    return model.eval()


def check_images(model, count: int, seed: int = 0) -> torch.Tensor:
    """``count`` random uint8 images of the model's input size, preprocessed as the model does."""
    from mmocr.structures import TextRecogDataSample
    h, w = model.backbone.visual.image_size
    gen = torch.Generator().manual_seed(seed)
    images = [torch.randint(0, 256, (3, h, w), generator=gen, dtype=torch.uint8)
              for _ in range(count)]
    samples = [TextRecogDataSample(metainfo=dict(img_shape=(h, w), valid_ratio=1.0))
               for _ in range(count)]
    return model.data_preprocessor(dict(inputs=images, data_samples=samples))['inputs']


def installed_backend():
    for backend in BACKENDS:
        try:
            __import__(backend)
            return backend
        except ImportError:
            continue
    return None


def texts(samples):
    return [s.pred_text.item for s in samples]


@torch.no_grad()
def check(model, out_dir: str, int8_dir: str, count: int) -> None:
    backend = installed_backend()
    if not count or backend is None:
        print('not checked: ' + ('--check-images 0' if not count else
                                  'neither onnxruntime nor openvino is installed'))
        return
    images = check_images(model, count)
    cross = model.decoder.decode(model.backbone(images))[0]
    runner = CLIP4STRRunner(out_dir, backend)
    ours = runner.decode(images.numpy())
    reference = texts(runner.postprocess(cross.numpy(), cross.numpy()))
    fp32 = texts(runner.postprocess(*ours))
    same = sum(a == b for a, b in zip(reference, fp32))
    diff = float(abs(ours[0] - cross.numpy()).max())
    print(f'fp32 on {backend} vs PyTorch, {count} random images: identical strings '
          f'{same}/{count}, largest logit difference {diff:.1e}')
    if int8_dir:
        agreement = string_agreement(fp32, texts(CLIP4STRRunner(int8_dir, backend).predict(
            images.numpy())))
        print(f'int8 vs fp32 on {backend}, {count} random images: identical strings '
              f'{100 * agreement["strings"]:.1f} %, 1 - NED {agreement["one_minus_ned"]:.3f} '
              '(random images; tools/test.py on the int8 folder gives its accuracy)')


def main():
    args = parse_args()
    check_config(args.config)
    check_output_dir(args.out_dir, 'OUT_DIR')
    use_weights_only_loader()
    init_default_scope('mmocr')
    try:
        check_out_dir(args.out_dir, args.overwrite, [args.config, args.checkpoint])
        cfg = Config.fromfile(args.config)
        model = build_model(cfg, args.checkpoint)
        manifest = export_recognizer(model, args.out_dir, cfg.model.data_preprocessor.to_dict(),
                                     args.checkpoint, args.opset, int8=args.int8,
                                     overwrite=args.overwrite)   # replaces OUT_DIR whole
        print(f'{len(manifest["graphs"])} fp32 graphs (opset {args.opset}) and {MANIFEST} '
              f'in {args.out_dir}')
        int8_dir = osp.join(args.out_dir, 'int8') if args.int8 else None
        if int8_dir:
            print(f'int8 graphs (ONNX Runtime dynamic quantisation) in {int8_dir}')
        check(model, args.out_dir, int8_dir, args.check_images)
    except (CheckpointError, DataError, DeployError) as err:
        sys.exit(f'error: {err}')


if __name__ == '__main__':
    main()
