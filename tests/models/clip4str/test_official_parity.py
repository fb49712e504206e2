"""Parity with the official CLIP4STR code, stage by stage, on the in-repository fixture."""
import math

import numpy as np
import pytest
import torch

from clip4str_plugin.models.parseq import network as network_module
from clip4str_plugin.text.charsets import CHARSET_36
from clip4str_plugin.text.rules import CharsetAdapter
from clip4str_plugin.weights.official_checkpoint import official_to_plugin
from conftest import fixture_model, make_samples
from fixtures.make_official_tiny import SHARED, check_reproduces, load_official_tiny, read_shared

ATOL = 1e-4


def official_model(weights):
    """The fixture-geometry model holding ``weights`` (reference layout)."""
    from mmengine.registry import init_default_scope
    init_default_scope('mmocr')
    model = fixture_model()
    state, unmapped = official_to_plugin(weights)
    assert unmapped == []
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert missing == [] and unexpected == []
    return model


@pytest.fixture(scope='module')
def official():
    weights, stages = load_official_tiny()
    return official_model(weights), stages


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
    adapt = CharsetAdapter(CHARSET_36)
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
    full_ar, cross_net, calls = network_module.greedy_ar, model.decoder.cross_decoder, []

    def cross_without_early_stop(net, memory_kv, batch, num_steps=None, early_stop=True,
                                 device=None):
        calls.append(net is cross_net)
        return full_ar(net, memory_kv, batch, num_steps, early_stop and net is not cross_net,
                       device)

    monkeypatch.setattr(network_module, 'greedy_ar', cross_without_early_stop)
    slow, _ = model.decoder.decode(image)
    assert calls == [False, True]            # the visual pass, then the cross pass: patched
    assert torch.equal(fast.argmax(-1), slow.argmax(-1))
    close(fast, slow.numpy(), atol=1e-5)


@torch.no_grad()
def test_in_repository_fixture_reproduces_the_shared_one(official):
    """Only where ../shared is present: every stage and weight comes back exactly, and the
    model's outputs are bit-identical with the full token embedding."""
    if not SHARED.is_dir():
        pytest.skip(f'{SHARED} is absent: nothing to compare the in-repository copy with')
    check_reproduces()
    model, st = official
    full = official_model(read_shared(SHARED)[0])
    images = torch.from_numpy(st['images'])
    for ours, theirs in zip(model.decoder.decode(model.backbone(images)),
                            full.decoder.decode(full.backbone(images))):
        assert torch.equal(ours, theirs)
