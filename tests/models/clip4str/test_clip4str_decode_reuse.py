"""CLIP4STRDecoder.decode computes nothing twice (image keys/values, unchanged captions) and
still gives the straightforward decode's answer."""
import pytest
import torch

from clip4str_plugin.models.clip4str import decoder as decoder_module
from clip4str_plugin.models.parseq import network as network_module
from conftest import tiny_model


def plain_decode(dec, image):
    """Every memory projected and every caption encoded again, as the reference does."""
    visual = dec.visual_decoder.decode_ar(image)
    cross = dec.cross_decoder.decode_ar(dec.cross_memory(image, visual), visual.shape[1])
    visual = dec.visual_decoder.refine(image, visual)
    cross = dec.cross_decoder.refine(dec.cross_memory(image, visual), cross)
    return cross, visual


def count_text_rows(dec, monkeypatch):
    """Rows that go through the text tower, one entry per call."""
    rows, forward = [], dec.text_encoder.forward
    monkeypatch.setattr(dec.text_encoder, 'forward', lambda ids: rows.append(len(ids)) or
                        forward(ids))
    return rows


def count_projections(network, monkeypatch):
    calls, project = [], network.memory_kv
    monkeypatch.setattr(network, 'memory_kv', lambda m: calls.append(m.shape) or project(m))
    return calls


def logits_for(dec, words):
    """Logits ``(N, max_length, C)`` whose greedy strings are ``words`` (then [E])."""
    table, eos = dec.dictionary.dict, dec.dictionary.end_idx
    out = torch.full((len(words), dec.visual_decoder.max_length, dec.dictionary.num_classes - 2),
                     -10.0)
    for row, word in enumerate(words):
        ids = [table.index(c) for c in word] + [eos]
        out[row, torch.arange(len(ids)), torch.tensor(ids)] = 10.0
    return out


def scripted_visual(dec, monkeypatch, first, refined):
    """The visual branch answers ``first`` words, then ``refined`` at refinement (in
    :func:`dual_decode`'s loops and in the network's own)."""
    for module, name, words in ((network_module, 'greedy_ar', first),
                                (decoder_module, 'cloze_refine', refined)):
        loop = getattr(module, name)
        monkeypatch.setattr(module, name, lambda net, *a, _loop=loop, _words=words, **kw:
                            logits_for(dec, _words) if net is dec.visual_decoder
                            else _loop(net, *a, **kw))
    monkeypatch.setattr(dec.visual_decoder, 'decode_ar', lambda *a, **kw: logits_for(dec, first))
    monkeypatch.setattr(dec.visual_decoder, 'refine', lambda *a, **kw: logits_for(dec, refined))


@torch.no_grad()
def test_same_answer_as_the_straightforward_decode(monkeypatch):
    model = tiny_model()
    torch.manual_seed(1)
    image = model.backbone(torch.randn(2, 3, 32, 128))
    ref_cross, ref_visual = plain_decode(model.decoder, image)
    projections = count_projections(model.decoder.cross_decoder, monkeypatch)
    cross, visual = model.decoder.decode(image)
    assert projections == [image.shape]          # the image part only, once
    assert torch.equal(cross.argmax(-1), ref_cross.argmax(-1))
    assert (cross - ref_cross).abs().max() < 1e-5
    assert (visual - ref_visual).abs().max() < 1e-5


@pytest.mark.parametrize('first,refined,rows_encoded', [
    # two distinct captions, encoded once for both passes
    (['abc', 'word', 'abc'], ['abc', 'word', 'abc'], [2]),
    # then the one refined caption that changed, alone
    (['abc', 'word', 'xyz'], ['abc', 'ward', 'xyz'], [3, 1]),
], ids=['unchanged', 'one-changed'])
@torch.no_grad()
def test_only_changed_captions_are_encoded_again(monkeypatch, first, refined, rows_encoded):
    model = tiny_model()
    dec = model.decoder
    image = model.backbone(torch.randn(3, 3, 32, 128))
    scripted_visual(dec, monkeypatch, first, refined)
    ref, _ = plain_decode(dec, image)
    rows = count_text_rows(dec, monkeypatch)
    cross, _ = dec.decode(image)
    assert rows == rows_encoded
    assert (cross - ref).abs().max() < 1e-5
