"""CLIP4STRDecoder: parity with the official code, training loss, decoding options."""
import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from clip4str_plugin.models.reference_layout import convert_reference_state_dict
from clip4str_plugin.utils.charset import CharsetAdapter
from conftest import CONFIGS, FIXTURE, build_model, load_config, make_samples, tiny_model

ATOL = 1e-4


def fixture_model():
    """The plugin model with the fixture's geometry (vision/text width 128, 2 layers, D 64)."""
    cfg = load_config(CONFIGS / 'clip4str' / '_base_clip4str.py')
    cfg.model.backbone.update(embed_dim=64, width=128, layers=2)
    cfg.model.decoder.text_encoder.update(embed_dim=64, width=128, layers=2)
    cfg.model.decoder.decoder.update(embed_dim=64)
    return build_model(cfg.model).eval()


@pytest.fixture(scope='module')
def official():
    if not FIXTURE.is_dir():
        pytest.fail(f'parity fixture missing: {FIXTURE}')
    from mmengine.registry import init_default_scope
    init_default_scope('mmocr')
    model = fixture_model()
    state, unmapped = convert_reference_state_dict(load_file(str(FIXTURE / 'weights.safetensors')))
    assert unmapped == []
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert missing == [] and unexpected == []
    stages = dict(np.load(FIXTURE / 'stages.npz', allow_pickle=False))
    return model, stages


def close(actual, expected, atol=ATOL):
    expected = torch.as_tensor(np.asarray(expected))
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    diff = (actual.float() - expected.float()).abs().max().item()
    assert diff <= atol, f'max abs diff {diff}'


@torch.no_grad()
def test_reproduces_official_stages(official):
    model, st = official
    dec = model.decoder
    image = model.backbone(torch.from_numpy(st['images']))
    close(image, st['image_memory'])

    visual = dec.visual_decoder.decode_ar(image)
    assert visual.shape[1] == int(st['num_ar_steps'])
    close(visual, st['visual_ar_logits'])
    assert dec.captions(visual) == list(st['captions_ar'])
    ids = dec.text_encoder.tokenize(dec.captions(visual))
    assert torch.equal(ids, torch.from_numpy(st['bpe_ids_ar']).long())
    close(dec.text_encoder(ids), st['text_features_ar'])
    cross_memory = dec.cross_memory(image, visual)
    close(cross_memory, st['cross_memory_ar'])

    cross = dec.cross_decoder.decode_ar(cross_memory, visual.shape[1], early_stop=False)
    close(cross, st['cross_ar_logits'])

    refined_visual = dec.visual_decoder.refine(image, visual)
    close(refined_visual, st['visual_refined_logits'])
    assert dec.captions(refined_visual) == list(st['captions_refine'])
    refine_memory = dec.cross_memory(image, refined_visual)
    close(refine_memory, st['cross_memory_refine'])
    close(dec.cross_decoder.refine(refine_memory, cross), st['cross_refined_logits'])


@torch.no_grad()
def test_reproduces_official_predictions(official):
    model, st = official
    images = torch.from_numpy(st['images'])
    samples = make_samples([''] * len(images), shape=(224, 224))
    cross, visual = model.decoder.decode(model.backbone(images))
    close(cross, st['final_logits'])
    preds = model.decoder.predict(model.backbone(images), None, samples)
    assert [p.pred_text.item for p in preds] == list(st['pred_raw'])
    assert [p.visual_pred_text.item for p in preds] == list(st['visual_pred_raw'])
    adapt = CharsetAdapter('0123456789abcdefghijklmnopqrstuvwxyz')
    assert [adapt(p.pred_text.item) for p in preds] == list(st['pred_eval'])
    # reference confidence: product of the kept probabilities, [E] included
    probs = cross.softmax(-1).max(-1).values
    for row, (pred, conf) in enumerate(zip(preds, st['pred_conf'])):
        n = len(pred.pred_text.item)
        expected = probs[row, :n + 1].prod() if n < probs.shape[1] else probs[row].prod()
        assert math.isclose(float(expected), float(conf), rel_tol=1e-4)
        assert np.allclose(pred.pred_text.score, probs[row, :n].numpy(), atol=1e-6)


@torch.no_grad()
def test_cross_early_stop_keeps_the_answer(official, monkeypatch):
    model, st = official
    image = model.backbone(torch.from_numpy(st['images']))
    fast, _ = model.decoder.decode(image)
    full_ar = model.decoder.cross_decoder.decode_ar
    monkeypatch.setattr(model.decoder.cross_decoder, 'decode_ar',
                        lambda memory, steps=None, early_stop=True: full_ar(memory, steps, False))
    slow, _ = model.decoder.decode(image)
    assert torch.equal(fast.argmax(-1), slow.argmax(-1))
    close(fast, slow.numpy(), atol=1e-5)


def test_loss_and_gradients():
    model = tiny_model()
    model.init_weights()
    model.train()
    text = model.decoder.text_encoder.text
    assert not text.transformer.resblocks[0].training, 'frozen text blocks stay in eval mode'
    assert text.transformer.resblocks[1].training
    samples = make_samples(['hello', 'World!', 'a', 'x' * 25])
    torch.manual_seed(1)
    data = dict(inputs=[torch.randint(0, 255, (3, 32, 128), dtype=torch.uint8)] * 4,
                data_samples=samples)
    batch = model.data_preprocessor(data, training=True)
    losses = model(batch['inputs'], batch['data_samples'], mode='loss')
    assert set(losses) == {'loss_visual', 'loss_cross'}
    # an untrained model is close to uniform over the 95 classes
    for value in losses.values():
        assert torch.isfinite(value) and abs(value.item() - math.log(95)) < 1.0

    losses['loss_cross'].backward(retain_graph=True)
    assert model.backbone.visual.conv1.weight.grad is None, 'cross branch sees detached images'
    assert model.decoder.visual_decoder.head.weight.grad is None
    losses['loss_visual'].backward()
    grad = lambda p: None if p.grad is None else p.grad.abs().sum().item()  # noqa: E731
    assert grad(model.backbone.visual.conv1.weight) > 0
    assert grad(model.decoder.visual_decoder.head.weight) > 0
    assert grad(model.decoder.cross_decoder.head.weight) > 0
    assert grad(text.transformer.resblocks[1].mlp.c_fc.weight) > 0
    assert grad(text.text_projection) > 0
    for frozen in (text.transformer.resblocks[0].mlp.c_fc.weight, text.token_embedding.weight,
                   text.positional_embedding):
        assert not frozen.requires_grad and frozen.grad is None


def test_loss_matches_per_permutation_weighting():
    """The flat mean equals the reference's sum_k n_k CE_k / sum_k n_k per branch."""
    model = tiny_model()
    model.train()
    dec = model.decoder
    samples = make_samples(['abc', 'hello'])
    feat = torch.randn(2, 129, 128)
    torch.manual_seed(0)
    np.random.seed(0)
    logits, targets = dec.forward_train(feat, None, samples)
    pad = dec.dictionary.padding_idx
    for name in ('visual', 'cross'):
        total, count = 0.0, 0
        for k in range(targets.shape[0]):
            n = (targets[k] != pad).sum().item()
            ce = torch.nn.functional.cross_entropy(logits[name][k].flatten(0, 1),
                                                   targets[k].flatten(), ignore_index=pad)
            total, count = total + n * ce.item(), count + n
        loss = dec.module_loss(logits, targets)[f'loss_{name}'].item()
        assert math.isclose(loss, total / count, rel_tol=1e-5)
    eos = dec.dictionary.end_idx
    assert (targets[:2] == eos).sum() == 4 and (targets[2:] == eos).sum() == 0


@torch.no_grad()
def test_refine_iters_zero_skips_refinement(monkeypatch):
    model = tiny_model(refine_iters=0)
    calls = []
    for branch in (model.decoder.visual_decoder, model.decoder.cross_decoder):
        monkeypatch.setattr(branch, 'refine', lambda *a: calls.append(a))
    feat = model.backbone(torch.randn(3, 3, 32, 128))
    cross, visual = model.decoder.decode(feat)
    assert calls == []
    ar = model.decoder.visual_decoder.decode_ar(feat)
    assert torch.equal(visual, ar)


@torch.no_grad()
def test_non_autoregressive_decoding():
    model = tiny_model(decode_ar=False)
    data = dict(inputs=[torch.randint(0, 255, (3, 32, 128), dtype=torch.uint8)] * 2,
                data_samples=make_samples(['a', 'b']))
    preds = model.test_step(data)
    assert all(isinstance(p.pred_text.item, str) for p in preds)
    feat = model.backbone(torch.randn(2, 3, 32, 128))
    cross, visual = model.decoder.decode(feat)
    assert cross.shape == visual.shape == (2, 26, 95)


@torch.no_grad()
def test_pred_text_format():
    model = tiny_model()
    data = dict(inputs=[torch.randint(0, 255, (3, 32, 128), dtype=torch.uint8)] * 3,
                data_samples=make_samples(['a', 'b', 'c']))
    for pred in model.test_step(data):
        for field in (pred.pred_text, pred.visual_pred_text):
            assert isinstance(field.item, str)
            assert len(field.score) == max(len(field.item), 1)
            assert all(0.0 < s <= 1.0 for s in field.score)
