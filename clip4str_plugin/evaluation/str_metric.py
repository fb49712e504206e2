"""The CLIP4STR / PARSeq evaluation protocol as an MMEngine metric."""
from typing import Dict, List, Sequence

from mmengine.evaluator import BaseMetric
from mmocr.registry import METRICS
from rapidfuzz.distance import Levenshtein

from ..text.charsets import charset_of
from ..text.rules import CharsetAdapter, LabelRules


@METRICS.register_module()
class STRBenchmarkMetric(BaseMetric):
    """Word accuracy and 1 - normalised edit distance under the reference protocol.

    Ground truth goes through the reference's label rules (whitespace removed, NFKD to ASCII,
    longer than ``max_label_length`` or empty after the charset: not counted); the prediction is
    mapped onto the same charset; a sample is correct when both strings are equal.

    Args:
        charset: '36' (case-insensitive alphanumeric, the default of the papers), '62' (cased
            alphanumeric), '94' (all printable ASCII), or the characters themselves.
        max_label_length: 25.
        prefix: metric prefix (default 'str'): keys ``str/accuracy``, ``str/1-NED``,
            ``str/num_samples``.
        pred_field: the prediction scored: 'pred_text' (the model's answer; CLIP4STR's cross
            branch) or e.g. 'visual_pred_text' (CLIP4STR's visual branch).
    """

    default_prefix = 'str'

    def __init__(self, charset: str = '36', max_label_length: int = 25,
                 collect_device: str = 'cpu', prefix: str = None,
                 pred_field: str = 'pred_text'):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.pred_field = pred_field
        chars = charset_of(charset)
        self.rules = LabelRules(chars, max_label_length)
        self.adapt = CharsetAdapter(chars)

    def process(self, data_batch, data_samples: Sequence) -> None:
        for sample in data_samples:
            gt = self.rules(sample.get('gt_text').get('item'))
            pred = sample.get(self.pred_field)
            if pred is None:
                raise KeyError(f'STRBenchmarkMetric: the predictions have no {self.pred_field!r}')
            pred = self.adapt(pred.get('item'))
            self.results.append(dict(gt=gt, pred=pred))

    def compute_metrics(self, results: List[Dict]) -> Dict:
        scored = [r for r in results if r['gt'] is not None]
        n = len(scored)
        correct = sum(r['pred'] == r['gt'] for r in scored)
        ned = sum(1 - Levenshtein.normalized_distance(r['pred'], r['gt']) for r in scored)
        return {'accuracy': round(correct / n, 4) if n else 0.0,
                '1-NED': round(ned / n, 4) if n else 0.0,
                'num_samples': n}
