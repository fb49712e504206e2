"""CLIP4STRDecoder: training loss and gradients, decoding options, the prediction format, the
files one image's predict crosses."""
import math
import os
import sys

import numpy as np
import pytest
import torch

import clip4str_plugin
from clip4str_plugin.errors import DataError
from clip4str_plugin.models.clip4str import decoder as decoder_module
from clip4str_plugin.models.clip4str.decoder import pick_answer
from conftest import make_samples, tiny_model


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
    monkeypatch.setattr(decoder_module, 'cloze_refine', lambda *a: calls.append(a))
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


@pytest.mark.parametrize('fastpath', ['auto', 'off', 'on'])
def test_one_image_through_predict_crosses_at_most_six_files(monkeypatch, fastpath):
    """A reader follows predict through: the towers, the kernels, the MMOCR decoder base, the
    dual decode, the PARSeq network and its layer (imports and first-call set-up excluded)."""
    monkeypatch.setenv('CLIP4STR_FASTPATH', fastpath)
    model = tiny_model()
    data = dict(inputs=[torch.randint(0, 256, (3, 32, 128), dtype=torch.uint8)],
                data_samples=make_samples(['']))
    package = os.path.dirname(clip4str_plugin.__file__)
    files = set()

    def record(frame, event, arg):
        if event == 'call' and frame.f_code.co_filename.startswith(package):
            files.add(os.path.relpath(frame.f_code.co_filename, package))

    with torch.no_grad():
        model.test_step(data)             # first call: the switch is resolved, logs written
        sys.setprofile(record)
        try:
            model.test_step(data)
        finally:
            sys.setprofile(None)
    assert files == {'models/clip/towers.py', 'compute/kernels.py', 'models/clip4str/decoder.py',
                     'models/parseq/plm_decoder.py', 'models/parseq/network.py',
                     'models/parseq/attention.py'}


def readings(*rows):
    """Logits ``(B, L, 4)`` whose greedy reading of sample b is ``rows[b]``: (class, logit)
    per step, the other classes at 0."""
    out = torch.zeros(len(rows), len(rows[0]), 4)
    for b, row in enumerate(rows):
        for t, (cls, value) in enumerate(row):
            out[b, t, cls] = value
    return out


def test_the_confident_answer_is_the_more_probable_reading_per_sample():
    eos = 0
    # 0: the cross reading is sure, the visual one is not; 1: the other way round; 2: the cross
    # reading is surer up to its [E], unsure after it (which no reader looks at)
    cross = readings([(1, 9.0), (2, 9.0), (eos, 9.0)], [(3, 1.0), (eos, 1.0), (1, 9.0)],
                     [(3, 9.0), (eos, 9.0), (1, 0.0)])
    visual = readings([(2, 1.0), (eos, 1.0)], [(2, 9.0), (eos, 9.0)],
                      [(2, 5.0), (eos, 5.0)])                        # stopped a step early
    answer = pick_answer(cross, visual, 'confident', eos)
    assert answer.shape == (3, 3, 4)
    assert torch.equal(answer[0], cross[0]) and torch.equal(answer[2], cross[2])
    assert torch.equal(answer[1, :2], visual[1]) and answer[1, 2].argmax() == eos
    assert pick_answer(cross, visual, 'cross', eos) is cross
    assert pick_answer(cross, visual, 'visual', eos) is visual


@torch.no_grad()
def test_the_decoder_answers_as_configured():
    feat = tiny_model().backbone(torch.randn(4, 3, 32, 128))
    cross, visual = tiny_model().decoder.decode(feat)
    answer, visual_again = tiny_model(answer='visual').decoder.decode(feat)
    assert torch.equal(answer, visual) and torch.equal(visual_again, visual)
    confident, _ = tiny_model(answer='confident').decoder.decode(feat)
    eos = tiny_model().decoder.dictionary.end_idx
    assert torch.equal(confident, pick_answer(cross, visual, 'confident', eos))
    with pytest.raises(ValueError, match="answer must be one of cross, visual, confident, "
                                         "not 'best'"):
        tiny_model(answer='best')


def test_greek_dictionary_needs_a_greek_text_charset():
    """A text_charset that keeps none of the dictionary's letters (a Greek dictionary with the
    reference's 36 characters) is refused when built: the cross branch would read empty
    captions."""
    greek_dict = dict(type='PARSeqDictionary', dict_file='charset_greek.txt')
    with pytest.raises(DataError, match=r"^text_charset keeps none of the dictionary's 69 "
                       r"letters \(αβγδεζηθικ...\): the cross branch would read empty captions; "
                       'set text_charset'):
        tiny_model(dictionary=greek_dict)
    greek = tiny_model(dictionary=greek_dict, text_charset='αβγδεζηθικλμνξοπρσςτυφχψω')
    assert greek.decoder._caption_chars[1 + greek.decoder.dictionary.chars.index('Σ')] == 'σ'
    assert tiny_model().decoder._caption_chars[1:4] == ['0', '1', '2']   # the 94: unchanged
