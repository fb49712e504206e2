"""compute/precision: weights cast once (LayerNorm and the preprocessor in fp32), the precision
chosen by the hardware, on the official fixture's weights and on DPTR's recogniser."""
import pytest
import torch
from torch import nn

from clip4str_plugin.compute import cpu
from clip4str_plugin.compute import precision as prec
from clip4str_plugin.weights.official_checkpoint import official_to_plugin
from conftest import fixture_model, load_config, make_samples
from fixtures.make_official_tiny import load_official_tiny


@pytest.fixture(scope='module')
def official():
    weights, stages = load_official_tiny()
    return weights, torch.from_numpy(stages['images'])


def official_model(weights):
    model = fixture_model()
    model.load_state_dict(official_to_plugin(weights)[0], strict=False)
    return model


def predict(model, images):
    with torch.inference_mode():
        out = model(images, make_samples([''] * len(images), tuple(images.shape[-2:])),
                    mode='predict')
    return [s.pred_text.item for s in out]


@pytest.mark.parametrize('flags, expected', [
    (dict(amx_bf16=True), 'bf16'), (dict(avx512_bf16=True), 'bf16'), (dict(avx2=True), 'fp32')])
def test_auto_follows_the_cpu(monkeypatch, flags, expected):
    monkeypatch.setattr(prec, 'cpu_flags',
                        lambda: {f: flags.get(f, False) for f in cpu.CPU_FLAGS})
    monkeypatch.setattr(torch.ops.mkldnn, '_is_mkldnn_bf16_supported', lambda: True)
    assert prec.resolve_precision('auto', 'cpu') == expected
    assert prec.resolve_precision('fp16', 'cpu') == 'fp16'
    with pytest.raises(ValueError, match=r"precision must be one of auto, fp32, bf16, fp16; "
                                         r"got 'int4'"):
        prec.resolve_precision('int4')


@pytest.mark.parametrize('flags, native, expected', [
    (dict(amx_bf16=True, avx512_bf16=True), True,
     'AMX BF16 and AVX-512 BF16: native bf16 matrix products'),
    (dict(avx512_bf16=True), True, 'AVX-512 BF16: native bf16 matrix products'),
    (dict(avx512_bf16=True), False, 'no AMX / AVX-512 BF16 for oneDNN: bf16 matrix products '
                                    'would be emulated, slower than fp32'),
    (dict(avx2=True), True, 'no AMX / AVX-512 BF16 for oneDNN: bf16 matrix products would be '
                            'emulated, slower than fp32')])
def test_the_reason_of_auto_is_stated(monkeypatch, flags, native, expected):
    monkeypatch.setattr(prec, 'cpu_flags',
                        lambda: {f: flags.get(f, False) for f in cpu.CPU_FLAGS})
    monkeypatch.setattr(torch.ops.mkldnn, '_is_mkldnn_bf16_supported', lambda: native)
    assert prec.bf16_reason('cpu') == expected


def test_auto_on_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda *a, **k: False)
    assert prec.resolve_precision('auto', 'cuda:0') == 'fp16'
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda *a, **k: True)
    assert prec.resolve_precision('auto', 'cuda') == 'bf16'


@pytest.mark.parametrize('name', ['bf16', 'fp16'])
def test_weights_cast_once_layernorm_fp32(official, name):
    weights, images = official
    model = official_model(weights)
    assert prec.set_inference_precision(model, name) == name
    dtype = prec.PRECISIONS[name]
    for module in model.modules():
        for p in module.parameters(recurse=False):
            assert p.dtype == (torch.float32 if isinstance(module, nn.LayerNorm) else dtype)
    assert {b.dtype for b in model.data_preprocessor.buffers()} == {torch.float32}
    pointers = {n: p.data_ptr() for n, p in model.named_parameters()}
    with torch.inference_mode(), torch.profiler.profile(record_shapes=True) as trace:
        feat = model.extract_feat(images[:1])
        logits = model.decoder.visual_decoder.decode_ar(feat, num_steps=2)
    assert feat.dtype == dtype and logits.dtype == dtype and logits.shape[1] == 2
    # no per-call weight casts: no tensor of a Linear weight's shape is converted
    shapes = {tuple(m.weight.shape) for m in model.modules() if isinstance(m, nn.Linear)}
    casts = [e.name for e in trace.events() if e.name in ('aten::_to_copy', 'aten::copy_')
             and e.input_shapes and tuple(e.input_shapes[0]) in shapes]
    assert casts == []
    assert pointers == {n: p.data_ptr() for n, p in model.named_parameters()}
    assert prec.set_inference_precision(model, 'fp32') == 'fp32'
    assert {p.dtype for p in model.parameters()} == {torch.float32}


def test_bf16_reads_nearly_the_fp32_strings(official):
    """The fixture's random weights leave near ties (top-2 gaps down to 0.002) in 26-character
    strings: bf16 may flip one character in twenty, no more; scores stay fp32."""
    weights, images = official
    model = official_model(weights)
    images = images[:2]
    reference = predict(model, images)
    prec.set_inference_precision(model, 'bf16')
    strings = predict(model, images)
    chars = sum(len(r) for r in reference)
    differ = sum(a != b for s, r in zip(strings, reference) for a, b in zip(s, r)) + \
        sum(abs(len(s) - len(r)) for s, r in zip(strings, reference))
    assert chars > 20 and differ <= 0.05 * chars, (strings, reference)


def test_dptr_recognizer_in_bf16():
    """timm's ViT backbone gets its input in its weights' dtype as CLIP's tower does; the
    features are the fp32 ones to bf16 rounding; predictions carry fp32 scores."""
    from conftest import CONFIGS, build_model
    cfg = load_config(CONFIGS / 'dptr' / 'dptr_finetune_vit-tiny_synth.py')
    cfg.model.decoder.refine_iters = 0
    torch.manual_seed(0)
    model = build_model(cfg.model).eval()
    images = torch.randn(1, 3, 32, 128)
    with torch.inference_mode():
        reference = model.extract_feat(images)
    assert prec.set_inference_precision(model, 'bf16') == 'bf16'
    with torch.inference_mode():
        feat = model.extract_feat(images)
    assert feat.dtype == torch.bfloat16
    assert (feat.float() - reference).norm() < 0.05 * reference.norm()
    out = model(images, make_samples([''], (32, 128)), mode='predict')[0].pred_text
    assert all(isinstance(score, float) for score in out.score)
    assert len(out.score) == len(out.item) > 0
    assert prec.set_inference_precision(model, 'fp32') == 'fp32'
    assert model.backbone._forward_pre_hooks == {}
