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
amx_bf16, and which library runs the towers' fp32 GEMMs: ``compute/onednn``) or the
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
import copy
import json
import os.path as osp
import random
import statistics
import string
import sys
import tempfile
import time
from contextlib import nullcontext

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
from clip4str_plugin.compute.onednn import fp32_gemm_backend
from clip4str_plugin.compute.precision import resolve_precision, set_inference_precision
from clip4str_plugin.fileio import refuse_existing_output, write_atomically
from clip4str_plugin.models.parseq.permutations import causal_mask
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


def uncached_decode_ar(decoder, memory, num_steps=None, early_stop=True, memory_kv=None):
    """Reference-style AR decoding: the whole prefix is decoded again at every step (the
    memory's keys/values, when the caller knows them, are the only thing reused)."""
    num_steps = num_steps or decoder.max_length
    tokens = memory.new_full((memory.shape[0], 1), decoder.bos_id, dtype=torch.long)
    logits = []
    for step in range(num_steps):
        mask = causal_mask(step + 1, memory.device)
        out = decoder(tokens, memory, mask[step:step + 1][None], mask[None],
                      memory_kv=memory_kv)[0]
        logits.append(out[:, -1:] if out.shape[1] > 1 else out)
        next_token = logits[-1].argmax(-1)
        tokens = torch.cat([tokens, next_token], dim=1)
        if early_stop and bool((tokens == decoder.eos_id).any(-1).all()):
            break
    return torch.cat(logits, dim=1)


class _ResetPeak:
    """Peak memory of one measured block: CUDA allocator peak, or the process's peak RSS."""

    def __init__(self, device):
        self.cuda = device.startswith('cuda')

    def __enter__(self):
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        else:
            with open('/proc/self/clear_refs', 'w') as f:   # resets VmHWM (Linux)
                f.write('5')
        return self

    def peak_mib(self):
        if self.cuda:
            return torch.cuda.max_memory_allocated() / 2**20
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024
        return float('nan')

    def __exit__(self, *exc):
        return False


def build(cfg, checkpoint, device):
    from mmengine.runner import load_checkpoint
    from mmocr.registry import MODELS
    model = MODELS.build(cfg.model)
    if checkpoint:
        use_weights_only_loader()
        load_checkpoint(model, checkpoint, map_location='cpu')
    return model.to(device).eval()


def make_batch(cfg, batch_size, seed=0):
    from mmocr.structures import TextRecogDataSample
    w, h = cfg.get('input_size', (224, 224))
    gen = torch.Generator().manual_seed(seed)
    images = [torch.randint(0, 256, (3, h, w), generator=gen, dtype=torch.uint8)
              for _ in range(batch_size)]
    samples = [TextRecogDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w),
                                                 valid_ratio=1.0)) for _ in range(batch_size)]
    return dict(inputs=images, data_samples=samples)


def reduced_dtype(precision, device):
    """The dtype of a reduced precision (``'bf16'``, ``'fp16-autocast'``, ``'auto'``...), None
    for fp32."""
    name = resolve_precision(precision.split('-')[0], device)
    return dict(bf16=torch.bfloat16, fp16=torch.float16).get(name)


def with_precision(model, precision, device):
    """``(model, autocast context)``: the fp32 model under autocast, or a copy of it whose
    weights are cast once."""
    dtype = reduced_dtype(precision, device)
    if dtype is None:
        return model, nullcontext()
    if precision.endswith('-autocast'):
        return model, torch.autocast(device.split(':')[0], dtype=dtype)
    cast = copy.deepcopy(model)
    set_inference_precision(cast, precision, device)
    return cast, nullcontext()


def precision_label(precision, device):
    """``'auto (bf16)'`` for auto: what it chose here; other names as given."""
    return f'auto ({resolve_precision("auto", device)})' if precision == 'auto' else precision


def use_uncached_decoding(model, on=True):
    """Both branches of ``model`` decode as :func:`uncached_decode_ar` (``on``) or cached."""
    if not hasattr(model, 'decoder'):   # an exported model decodes as it was exported
        return
    for branch in (model.decoder.visual_decoder, model.decoder.cross_decoder):
        if on:
            branch.decode_ar = (lambda m, n=None, e=True, memory_kv=None, d=branch:
                                uncached_decode_ar(d, m, n, e, memory_kv))
        else:
            branch.__dict__.pop('decode_ar', None)


def measure(model, data, precision, device, iters, warmup, progress, uncached=False):
    model, autocast = with_precision(model, precision, device)
    use_uncached_decoding(model, uncached)
    sync = torch.cuda.synchronize if device.startswith('cuda') else (lambda: None)
    times = []
    try:
        with torch.no_grad(), autocast, _ResetPeak(device) as peak:
            for i in range(warmup + iters):
                sync()
                start = time.perf_counter()
                model.test_step(data)
                sync()
                if i >= warmup:
                    times.append(time.perf_counter() - start)
                progress.update()
            peak_mib = peak.peak_mib()
    finally:
        use_uncached_decoding(model, False)
    return times, peak_mib


def label_batch(data, seed=0):
    """Random words of 2-8 letters as ground truth of a batch."""
    from mmengine.structures import LabelData
    rng = random.Random(seed)
    for sample in data['data_samples']:
        word = ''.join(rng.choices(string.ascii_letters, k=rng.randint(2, 8)))
        sample.gt_text = LabelData(item=word)
    return data


def measure_train(model, data, precision, device, iters, warmup, progress):
    """Seconds per training step (forward under autocast, backward, fused AdamW step)."""
    dtype = reduced_dtype(precision, device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-6, fused=True)
    scaler = torch.amp.GradScaler(enabled=dtype == torch.float16)
    sync = torch.cuda.synchronize if device.startswith('cuda') else (lambda: None)
    model.train()
    times = []
    with _ResetPeak(device) as peak:
        for i in range(warmup + iters):
            sync()
            start = time.perf_counter()
            batch = model.data_preprocessor(data, True)
            with torch.autocast(device.split(':')[0], dtype=dtype, enabled=dtype is not None):
                losses = model(batch['inputs'], batch['data_samples'], mode='loss')
            optimizer.zero_grad()
            scaler.scale(sum(losses.values())).backward()
            scaler.step(optimizer)
            scaler.update()
            sync()
            if i >= warmup:
                times.append(time.perf_counter() - start)
            progress.update()
        peak_mib = peak.peak_mib()
    model.eval()
    return times, peak_mib


def exported_models(model, cfg, args, folder):
    """``{(backend, precision): DeployedTextRecognizer}`` of ``model`` exported into ``folder``
    (fp32; int8 when asked) for each exported backend of ``args``."""
    from clip4str_plugin.deploy import DeployedTextRecognizer, export_recognizer
    from clip4str_plugin.deploy.quantize import quantize_folder
    from clip4str_plugin.deploy.sessions import import_runtime
    backends = [b for b in args.backend if b != 'pytorch']
    if not backends or args.train:
        return {}
    for backend in backends:   # before exporting: a runtime that is not installed
        import_runtime(backend)
    preprocessor = cfg.model.data_preprocessor.to_dict()
    folders = {'fp32': folder}
    export_recognizer(model, folder, preprocessor)
    if 'int8' in args.precision:
        folders['int8'] = osp.join(folder, 'int8')
        quantize_folder(folder, folders['int8'])
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
