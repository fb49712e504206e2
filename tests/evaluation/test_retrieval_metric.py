"""ZeroShotRetrievalMetric: ranks on hand-made embeddings, ties, too few candidates."""
import pytest
import torch

from clip4str_plugin.evaluation.retrieval_metric import ZeroShotRetrievalMetric


def unit(*values):
    v = torch.tensor(values, dtype=torch.float32)
    return v / v.norm()


def test_hand_made_ranks():
    # three words with orthogonal text embeddings; four images
    text = {'cat': unit(1, 0, 0), 'dog': unit(0, 1, 0), 'cow': unit(0, 0, 1)}
    images = [('cat', unit(1, 0.2, 0)),     # own word first: top-1 hit
              ('dog', unit(0.9, 0.5, 0)),   # cat first, dog second: top-2 only
              ('cow', unit(0.5, 0.4, 0.1)),  # cow last (third)
              ('cow', unit(0, 0, 1))]       # hit
    metric = ZeroShotRetrievalMetric(topk=(1, 2, 3), min_candidates=3)
    metric.process({}, [dict(img_embed=img, text_embed=text[w], caption=w) for w, img in images])
    out = metric.compute_metrics(metric.results)
    assert out == {'top1': 50.0, 'top2': 75.0, 'top3': 100.0, 'num_candidates': 3}


def test_ties_do_not_count_as_hits_for_free():
    # identical text embeddings for two words: the image of the second one ranks second
    same = unit(1, 0)
    metric = ZeroShotRetrievalMetric(topk=(1, ), min_candidates=2)
    metric.process({}, [dict(img_embed=same, text_embed=same, caption='a'),
                        dict(img_embed=same, text_embed=same, caption='b')])
    assert metric.compute_metrics(metric.results)['top1'] == 50.0


def test_too_few_candidates():
    metric = ZeroShotRetrievalMetric(min_candidates=100)
    metric.process({}, [dict(img_embed=unit(1, 0), text_embed=unit(1, 0), caption='a')])
    with pytest.raises(ValueError, match=r'only 1 distinct captions to retrieve among '
                       r'\(min_candidates=100\): evaluate on a larger set'):
        metric.compute_metrics(metric.results)
