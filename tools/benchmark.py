"""Recognition speed of a config: images/s, latency per batch and peak memory.

Runs the model's own ``test_step`` (preprocessing, CLIP image tower, dual decode-and-refine,
postprocessing) on random images of the model's input size, for each batch size and precision.

    python tools/benchmark.py configs/clip4str/clip4str-tiny.py --batch-sizes 1 8 32
    python tools/benchmark.py configs/clip4str/clip4str-b16.py --device cuda --precision fp32 fp16

Precisions: fp32; bf16 / fp16 with the weights cast once (a copy of the model; LayerNorm kept
fp32: ``clip4str_plugin.compute.precision``, as ``tools/test.py --precision``); auto (what that
module picks for the device: reduced precision only where the hardware runs it natively);
bf16-autocast / fp16-autocast (``torch.autocast`` over the fp32 weights, which casts every weight
again at every call). Training runs bf16 / fp16 under autocast whatever the suffix. The table
starts with what the CPU offers (model, torch's kernel level, flags such as avx512_bf16 and
amx_bf16, and which library runs the towers' fp32 GEMMs: ``compute/switch``) or the
GPU's name. ``--uncached`` also times the straightforward decoding that
re-runs the decoder on the whole prefix at every AR step (what the reference code does), to
measure what the key/value cache saves. A randomly initialised model rarely emits [E], so it
decodes all 26 steps: the worst case.

``--backend onnxruntime openvino`` also times the model exported to ONNX (a temporary
``tools/export_onnx.py`` folder of the same weights) through its MMOCR wrapper's ``test_step``,
fp32 and, with ``--precision int8``, ONNX Runtime's dynamic int8 (exported backends only);
``--threads`` sets their threads too.

``--train`` times training steps instead (preprocessing, the loss under autocast, backward,
fused AdamW step, as the CLIP4STR schedule) on random images labelled with random words of
2-8 letters. Give ``--checkpoint`` of a trained model for realistic numbers: a random model
predicts empty words, whose captions are encoded only once.
"""
import argparse
import json
import os.path as osp
import statistics
import sys
import tempfile

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.utils import ProgressBar

import clip4str_mmcv_lite  # noqa: F401  (mmcv-lite: the mmcv._ext stand-in, before the plugin)
from clip4str_plugin.deploy import DeployError
from clip4str_plugin.deploy.sessions import BACKENDS
from clip4str_plugin.cli.checks import (check_config, check_device, check_output_file,
                                               check_positive, fail)
from clip4str_plugin.compute.cpu import describe_cpu
from clip4str_plugin.compute.switch import fp32_gemm_backend
from clip4str_plugin.cli.timing import (label_batch, make_batch, measure, measure_train,
                                         precision_label)
from clip4str_plugin.fileio import refuse_existing_output, write_atomically
from clip4str_plugin.weights.safe_loading import use_weights_only_loader

PRECISIONS = ['fp32', 'auto', 'bf16', 'fp16', 'bf16-autocast', 'fp16-autocast']


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--checkpoint', help='weights to load (optional; random otherwise)')
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 8, 32])
    parser.add_argument('--precision', nargs='+', default=['fp32', 'auto'],
                        choices=PRECISIONS + ['int8'])
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--iters', type=int, default=10, help='timed batches per setting')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--threads', type=int, help='torch CPU threads')
    parser.add_argument('--uncached', action='store_true',
                        help='also time decoding without the key/value cache')
    parser.add_argument('--train', action='store_true', help='time training steps instead')
    parser.add_argument('--out', help='write the results as JSON here')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing --out')
    parser.add_argument('--backend', nargs='+', default=['pytorch'],
                        choices=['pytorch', *BACKENDS],
                        help='onnxruntime / openvino: the model exported to ONNX (fp32, int8)')
    args = parser.parse_args()
    check_config(args.config)
    check_positive('--batch-sizes', args.batch_sizes)
    check_positive('--iters', args.iters)
    if args.warmup < 0:
        fail(f'--warmup must be 0 or more, got {args.warmup}')
    if args.threads is not None:
        check_positive('--threads', args.threads)
    check_device(args.device)
    check_output_file(args.out, '--out')
    if args.out:
        refuse_existing_output(args.out, args.overwrite, [args.config, args.checkpoint],
                               f'--out {args.out}')
    return args


def build(cfg, checkpoint, device):
    from mmengine.runner import load_checkpoint
    from mmocr.registry import MODELS
    model = MODELS.build(cfg.model)
    if checkpoint:
        use_weights_only_loader()
        load_checkpoint(model, checkpoint, map_location='cpu')
    return model.to(device).eval()


def exported_models(model, cfg, args, folder):
    """``{(backend, precision): DeployedTextRecognizer}`` of ``model`` exported into ``folder``
    (fp32; int8 when asked) for each exported backend of ``args``."""
    from clip4str_plugin.deploy import DeployedTextRecognizer, export_recognizer
    from clip4str_plugin.deploy.sessions import import_runtime
    backends = [b for b in args.backend if b != 'pytorch']
    if not backends or args.train:
        return {}
    for backend in backends:   # before exporting: a runtime that is not installed
        import_runtime(backend)
    preprocessor = cfg.model.data_preprocessor.to_dict()
    int8 = 'int8' in args.precision
    export_recognizer(model, folder, preprocessor, int8=int8)
    folders = dict(fp32=folder, **(dict(int8=osp.join(folder, 'int8')) if int8 else {}))
    return {(b, p): DeployedTextRecognizer(f, b, args.threads, preprocessor)
            for b in backends for p, f in folders.items() if p in args.precision}


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    init_default_scope('mmocr')
    cfg = Config.fromfile(args.config)
    model = build(cfg, args.checkpoint, args.device)
    modes = ['training'] if args.train else ['cached'] + (['uncached'] if args.uncached else [])
    folder = tempfile.TemporaryDirectory(prefix='export_')
    try:
        exported = exported_models(model, cfg, args, folder.name)
    except DeployError as err:   # e.g. a runtime that is not installed
        sys.exit(f'error: {err}')
    settings = [('pytorch', model, m, p, b) for m in modes for p in args.precision
                if p != 'int8' and 'pytorch' in args.backend for b in args.batch_sizes]
    settings += [(backend, runner, 'cached', p, b)
                 for (backend, p), runner in exported.items() for b in args.batch_sizes]
    progress = ProgressBar(len(settings) * (args.iters + args.warmup))
    results = []
    for backend, model, mode, precision, batch_size in settings:
        data = make_batch(cfg, batch_size)
        timing = (args.device, args.iters, args.warmup, progress)
        if mode == 'training':
            times, peak = measure_train(model, label_batch(data), precision, *timing)
        else:
            times, peak = measure(model, data, 'fp32' if backend != 'pytorch' else precision,
                                  *timing, uncached=mode == 'uncached')
        median = statistics.median(times)
        results.append(dict(backend=backend, decoding=mode,
                            precision=precision_label(precision, args.device),
                            batch_size=batch_size,
                            images_per_s=batch_size / median, latency_ms=1000 * median,
                            peak_memory_mib=peak))
    print()
    device = torch.cuda.get_device_name() if args.device.startswith('cuda') else \
        f'CPU: {describe_cpu()}; fp32 GEMMs {fp32_gemm_backend()}'
    print(f'{args.config} on {device} (median of {args.iters} batches)')
    folder.cleanup()
    print('| backend | mode | precision | batch | images/s | latency ms/batch | peak memory MiB |')
    print('| --- | --- | --- | ---: | ---: | ---: | ---: |')
    for r in results:
        print(f"| {r['backend']} | {r['decoding']} | {r['precision']} | {r['batch_size']} | "
              f"{r['images_per_s']:.1f} | {r['latency_ms']:.1f} | {r['peak_memory_mib']:.0f} |")
    if args.out:
        write_atomically(args.out, json.dumps(dict(config=args.config, device=device,
                                                   results=results), indent=1).encode())


if __name__ == '__main__':
    main()
