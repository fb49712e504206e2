"""The reference protocol metric and the weighted average."""
import pytest
from mmengine.structures import LabelData
from mmocr.structures import TextRecogDataSample

from clip4str_plugin.evaluation import STRBenchmarkMetric, WeightedMultiDatasetsEvaluator
from clip4str_plugin.text.charsets import charset_of


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


def test_greek_ground_truth_is_refused_under_ascii_folding_and_scored_under_nfc():
    pairs = [('Αθήνα', 'Αθήνα'), ('ΟΔΟΣ', 'οδος'), ('λόγος', 'λογος'),
             ('πάω', 'π\u03b1\u0301ω'), ('12', '12')]      # prediction decomposed: composed
    metric = STRBenchmarkMetric()
    metric.process(None, samples(pairs))
    with pytest.raises(ValueError, match=r"^STRBenchmarkMetric \(str\): 1 of 5 samples kept "
                       r"\(empty 4\) from the ground truth: e.g. 'Αθήνα' is empty under "
                       r"label_folding='ascii' .*set label_folding='nfc'"):
        metric.compute_metrics(metric.results)
    # case-insensitive Greek: the lower-case letters of the dictionary and the digits
    greek_lower = ''.join(c for c in charset_of('charset_greek.txt')
                          if c.islower() or c.isdigit())
    metric = STRBenchmarkMetric(charset=greek_lower, label_folding='nfc')
    metric.process(None, samples(pairs))
    result = metric.compute_metrics(metric.results)
    # 'ΟΔΟΣ' -> 'οδος' (str.lower gives the final sigma); 'λογος' lacks the accent
    assert result == {'accuracy': 0.8, '1-NED': round((4 + 4 / 5) / 5, 4), 'num_samples': 5}
    cased = STRBenchmarkMetric(charset='charset_greek.txt', label_folding='nfc')
    cased.process(None, samples(pairs))
    assert cased.compute_metrics(cased.results)['accuracy'] == 0.6


def test_no_ground_truth_is_an_error():
    with pytest.raises(ValueError, match=r'^STRBenchmarkMetric \(str\): the ground truth holds '
                       'no samples$'):
        STRBenchmarkMetric().compute_metrics([])
