"""CLIP4STRDecoder's caption_style: what its cross branch feeds the CLIP text tower."""
import pytest
import torch

from conftest import tiny_model


def one_hot_logits(decoder, text):
    dic = decoder.dictionary
    ids = [dic.char2idx(c) for c in text] + [dic.end_idx]
    return torch.nn.functional.one_hot(torch.tensor([ids]), dic.num_classes - 2).float()


def test_plain_is_the_reference_caption_and_spelled_one_token_per_character():
    plain = tiny_model().decoder
    assert plain.caption_style == 'plain'
    assert plain.captions(one_hot_logits(plain, 'Hi-5x')) == ['hi5x']
    spelled = tiny_model(caption_style='spelled').decoder
    logits = one_hot_logits(spelled, 'Hi-5x')
    assert spelled.captions(logits) == ['h i 5 x']
    # SOT, one BPE token per character, EOT
    ids = spelled.text_encoder.tokenize(spelled.captions(logits))
    assert int((ids[0] > 0).sum()) == 2 + 4


def test_unknown_caption_style():
    with pytest.raises(ValueError, match="caption_style must be one of plain, spelled, not 'x'"):
        tiny_model(caption_style='x')
