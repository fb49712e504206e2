"""Timing of recognition and training steps for ``tools/benchmark.py``: random batches of the
model's input size, a precision applied (weights cast once, or autocast), the seconds of each
timed step and the peak memory of the timed block (CUDA allocator peak, or the process's VmHWM).

Precisions are resolved through :mod:`clip4str_plugin.compute.precision`, looked up at each call.
"""
import copy
import random
import string
import time
from contextlib import nullcontext

import torch

from clip4str_plugin.compute import precision as precision_module
from clip4str_plugin.models.parseq.attention import group_mask
from clip4str_plugin.models.parseq.permutations import causal_mask


def uncached_step(network, token, position, memory_kv, cache=None):
    """Reference-style AR step (``PARSeqNetwork.step``'s signature): the whole prefix is decoded
    again; the "cache" is the prefix's tokens, the memory's keys/values the only thing reused."""
    tokens = token if cache is None else torch.cat([cache, token], dim=1)
    mask = causal_mask(position + 1, token.device)
    query_mask, content_mask = (group_mask(m[None], None, token.shape[0])
                                for m in (mask[position:position + 1], mask))
    query = network.pos_queries[:, position:position + 1].expand(token.shape[0], -1, -1)
    logits = network.run_layers(query, network.embed_content(tokens), memory_kv, query_mask,
                                content_mask)
    return logits, tokens


class PeakMemory:
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
    name = precision_module.resolve_precision(precision.split('-')[0], device)
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
    precision_module.set_inference_precision(cast, precision, device)
    return cast, nullcontext()


def precision_label(precision, device):
    """``'auto (bf16)'`` for auto: what it chose here; other names as given."""
    if precision != 'auto':
        return precision
    return f'auto ({precision_module.resolve_precision("auto", device)})'


def use_uncached_decoding(model, on=True):
    """Both branches of ``model`` take AR steps as :func:`uncached_step` (``on``) or cached."""
    if not hasattr(model, 'decoder'):   # an exported model decodes as it was exported
        return
    for branch in (model.decoder.visual_decoder, model.decoder.cross_decoder):
        if on:
            branch.step = (lambda token, position, memory_kv, cache=None, d=branch:
                           uncached_step(d, token, position, memory_kv, cache))
        else:
            branch.__dict__.pop('step', None)


def measure(model, data, precision, device, iters, warmup, progress, uncached=False):
    model, autocast = with_precision(model, precision, device)
    use_uncached_decoding(model, uncached)
    sync = torch.cuda.synchronize if device.startswith('cuda') else (lambda: None)
    times = []
    try:
        with torch.no_grad(), autocast, PeakMemory(device) as peak:
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
    with PeakMemory(device) as peak:
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
