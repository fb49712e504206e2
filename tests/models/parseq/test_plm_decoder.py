"""PLMDecoder: the network built from the dictionary, clear refusals of old or bad settings,
memory choice, answer and extra fields, pre-trained networks through one helper.
PARSeqPostprocessor: cut at [E], per-character scores, finite score when empty."""
import pytest
import torch
from mmocr.registry import MODELS

from clip4str_plugin.models.parseq import PARSeqNetwork
from clip4str_plugin.models.parseq.network import one_shot
from clip4str_plugin.models.parseq.plm_decoder import PARSeqPostprocessor
from conftest import DICT_94, make_samples, tiny_model

DICTIONARY = dict(type='PARSeqDictionary', dict_file=DICT_94)


def rec_decoder(**overrides):
    torch.manual_seed(0)
    cfg = dict(type='PARSeqRecDecoder', dictionary=DICTIONARY,
               decoder=dict(embed_dim=32, depth=2, num_heads=4, dropout=0.0),
               module_loss=dict(type='PLMModuleLoss'),
               postprocessor=dict(type='PARSeqPostprocessor'))
    return MODELS.build(dict(cfg, **overrides)).eval()


def test_network_from_dictionary_and_geometry():
    network = rec_decoder(max_seq_len=10).decoder
    assert type(network) is PARSeqNetwork
    assert (network.bos_id, network.eos_id) == (95, 0)
    assert network.head.out_features == 95 and network.text_embed.embedding.num_embeddings == 97
    assert network.max_length == 11 and len(network.layers) == 2


@pytest.mark.parametrize('overrides,message', [
    (dict(decoder=dict(type='PARSeqNetwork', embed_dim=32)),
     r"decoder=dict\(...\) sets the network geometry .* not \['type'\]"),
    (dict(decoder=dict(embed_dim=32, num_classes=95)), r"not \['num_classes'\]"),
    (dict(pretrained=dict(checkpoint='pretrain.pth', prefix='decoder.decoder.')),
     r"PARSeqRecDecoder: pretrained= was removed; a pre-trained decoder is carried in by the "
     r"hook custom_hooks=\[..., dict\(type='DecoderTransferHook', checkpoint=<file>, "
     r"prefix='decoder.decoder.'\)\] \(docs/dptr.md\)"),
])
def test_bad_settings_are_refused_in_one_line(overrides, message):
    with pytest.raises(ValueError, match=message):
        rec_decoder(**overrides)


@torch.no_grad()
def test_reads_the_encoder_output_when_there_is_one():
    dec = rec_decoder()
    feat, out_enc = torch.randn(2, 7, 32), torch.randn(2, 5, 32)
    probs = dec(feat, out_enc)
    assert probs.shape == (2, 26, 95) and torch.allclose(probs.sum(-1), torch.ones(2, 26))
    assert torch.equal(probs, dec(None, out_enc))
    assert not torch.allclose(probs, dec(feat, None))


@torch.no_grad()
def test_decode_is_the_first_pass_then_the_refinements():
    dec = rec_decoder(refine_iters=2)
    memory = torch.randn(3, 5, 32)
    expected = dec.decoder.decode_ar(memory)
    for _ in range(2):
        expected = dec.decoder.refine(memory, expected)
    (logits, ) = dec.decode(memory)
    assert torch.equal(logits, expected)
    dec.decode_ar, dec.refine_iters = False, 0
    assert torch.equal(dec.decode(memory)[0],
                       one_shot(dec.decoder, dec.decoder.memory_kv(memory), 3))
    dec.refine_iters = 2
    preds = dec.predict(None, memory, make_samples(['', '', '']))
    texts = [dec.dictionary.idx2str(d.argmax(-1).tolist()).split('[E]')[0]
             for d in dec.decode(memory)[0]]
    assert [p.pred_text.item for p in preds] == texts


def test_training_forward_gives_branch_logits_and_targets():
    dec = rec_decoder().train()
    logits, targets = dec(torch.randn(2, 5, 32), None, make_samples(['abc', 'de']))
    assert set(logits) == {'visual'} and logits['visual'].shape == (6, 2, 4, 95)
    assert targets.shape == (6, 2, 4)
    assert set(dec.loss(torch.randn(2, 5, 32), None, make_samples(['abc', 'de']))) == \
        {'loss_visual'}


def test_pretrained_starts_every_network_of_the_decoder(tmp_path):
    """What DecoderTransferHook does: every network of the decoder starts from the file's."""
    from clip4str_plugin.models.parseq.transfer import transfer_decoder
    model = tiny_model()
    source = PARSeqNetwork(num_classes=95, vocab_size=97, bos_id=95, eos_id=0, embed_dim=128,
                           num_heads=8)
    state = {f'decoder.decoder.{k}': v for k, v in source.state_dict().items()}
    path = str(tmp_path / 'pretrain.pth')
    torch.save({'state_dict': state}, path)
    dec = model.decoder
    assert not torch.equal(dec.visual_decoder.head.weight, source.head.weight)
    assert list(dec.networks()) == ['visual_decoder', 'cross_decoder']
    rows, _ = transfer_decoder(dec.networks(), path, 'decoder.decoder.', dec.dictionary.dict)
    assert {status for _, _, status in rows} == {'loaded'}
    for network in (dec.visual_decoder, dec.cross_decoder):
        for key, value in source.state_dict().items():
            assert torch.equal(network.state_dict()[key], value), key


def probs_for(rows, num_classes=95):
    """rows: lists of (class, probability) per step."""
    probs = torch.full((len(rows), max(map(len, rows)), num_classes), 1e-4)
    for i, row in enumerate(rows):
        for t, (cls, p) in enumerate(row):
            probs[i, t, cls] = p
    return probs


def test_pred_text():
    post = PARSeqPostprocessor(dict(type='PARSeqDictionary', dict_file=DICT_94))
    probs = probs_for([[(11, .9), (12, .8), (0, .7), (13, .6)],     # 'ab' then [E]
                       [(0, .5), (11, .9), (11, .9), (11, .9)],     # empty
                       [(11, .9), (11, .8), (11, .7), (11, .6)]])   # no [E]: all four
    samples = post(probs, make_samples(['', '', '']))
    assert [s.pred_text.item for s in samples] == ['ab', '', 'aaaa']
    assert torch.allclose(torch.tensor(samples[0].pred_text.score), torch.tensor([.9, .8]))
    assert samples[1].pred_text.score == [0.5]
    assert len(samples[2].pred_text.score) == 4
    post(probs, samples, field='visual_pred_text')
    assert samples[0].visual_pred_text.item == 'ab'
