"""PARSeqPostprocessor: cut at [E], per-character scores, finite score when empty."""
import torch

from clip4str_plugin.models.parseq.postprocessor import PARSeqPostprocessor
from conftest import DICT_94, make_samples


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
