"""The end-to-end metric on hand-made examples."""
import pytest

import clip4str_mmcv_lite  # noqa: F401  (mmcv-lite: the mmcv._ext stand-in, before the plugin)
from projects.clip4str_spotting.clip4str_spotting.e2e_metric import E2EHmeanMetric, match_image

BOX = [0, 0, 100, 0, 100, 30, 0, 30]
SHIFTED = [10, 0, 110, 0, 110, 30, 10, 30]      # IoU 90/110 = 0.82
FAR = [50, 0, 150, 0, 150, 30, 50, 30]          # IoU 50/150 = 0.33
OTHER = [0, 100, 80, 100, 80, 130, 0, 130]


def test_text_and_iou_must_both_match():
    r = match_image([SHIFTED, OTHER], ['Hello!', 'x'], [BOX, OTHER], ['hello', 'y'],
                    [False, False])
    assert r == dict(tp=1, num_pred=2, num_gt=2)    # case and punctuation ignored; 'x' != 'y'
    assert match_image([FAR], ['hello'], [BOX], ['hello'], [False])['tp'] == 0
    assert match_image([SHIFTED], ['Hello'], [BOX], ['hello'], [False],
                       text_mode='exact')['tp'] == 0
    assert match_image([SHIFTED], ['x'], [BOX], ['y'], [False], match_text=False)['tp'] == 1


def test_one_to_one_and_ignored():
    r = match_image([BOX, SHIFTED], ['a', 'a'], [BOX], ['a'], [False])
    assert r == dict(tp=1, num_pred=2, num_gt=1)   # a ground truth matches once
    r = match_image([BOX, OTHER], ['a', 'b'], [BOX, OTHER], ['a', '###'], [False, True])
    assert r == dict(tp=1, num_pred=1, num_gt=1)   # the ignored one counts nowhere


def test_metric_over_images():
    metric = E2EHmeanMetric()
    samples = [dict(pred_instances=dict(polygons=[BOX], texts=['ok']),
                    gt_instances=dict(polygons=[BOX, OTHER], texts=['ok', 'no'],
                                      ignored=[False, False])),
               dict(pred_instances=dict(polygons=[OTHER], texts=['bad']),
                    gt_instances=dict(polygons=[], texts=[], ignored=[]))]
    metric.process(None, samples)
    result = metric.compute_metrics(metric.results)
    assert result == dict(precision=0.5, recall=0.5, hmean=0.5)
    with pytest.raises(ValueError):
        E2EHmeanMetric(text_mode='fuzzy')
