"""The reference protocol metric and the weighted average."""
import pytest
from mmengine.structures import LabelData
from mmocr.structures import TextRecogDataSample

from clip4str_plugin.evaluation import STRBenchmarkMetric, WeightedMultiDatasetsEvaluator


def samples(pairs):
    out = []
    for gt, pred in pairs:
        s = TextRecogDataSample()
        s.gt_text, s.pred_text = LabelData(item=gt), LabelData(item=pred)
        out.append(s.to_dict())
    return out


PAIRS = [('Hello', 'hello'), ('World!', 'world'), ('café', 'cafe'), ('abc', 'abd'),
         ('x' * 26, 'x' * 26), ('!!', ''), ('New York', 'newyork')]


@pytest.mark.parametrize('charset,accuracy,ned', [
    ('36', 4 / 5, (4 + 2 / 3) / 5),          # 'x'*26 and '!!' are not counted
    ('62', 1 / 5, None),                     # case counts: only 'cafe' is right
])
def test_protocol(charset, accuracy, ned):
    metric = STRBenchmarkMetric(charset=charset)
    metric.process(None, samples(PAIRS))
    result = metric.compute_metrics(metric.results)
    assert result['num_samples'] == 5
    assert result['accuracy'] == round(accuracy, 4)
    if ned is not None:
        assert result['1-NED'] == round(ned, 4)


def test_weighted_average_over_datasets():
    evaluator = WeightedMultiDatasetsEvaluator(
        metrics=[dict(type='STRBenchmarkMetric')], dataset_prefixes=['A', 'B'])
    evaluator.dataset_meta = dict(cumulative_sizes=[3, 4])
    evaluator.process(samples([('a', 'a'), ('b', 'b'), ('c', 'x'), ('d', 'd')]))
    results = evaluator.evaluate(4)
    assert results['A/str/accuracy'] == round(2 / 3, 4) and results['B/str/accuracy'] == 1.0
    assert results['average/str/accuracy'] == round((2 / 3 * 3 + 1) / 4, 4)


def test_scores_another_prediction_field():
    data = samples([('abc', 'abc'), ('def', 'xyz')])
    data[0]['visual_pred_text'] = LabelData(item='abd').to_dict()
    data[1]['visual_pred_text'] = LabelData(item='DEF').to_dict()
    metric = STRBenchmarkMetric(pred_field='visual_pred_text', prefix='str-visual')
    metric.process(None, data)
    assert metric.compute_metrics(metric.results)['accuracy'] == 0.5
    with pytest.raises(KeyError, match='no .missing_text'):
        STRBenchmarkMetric(pred_field='missing_text').process(None, data)
