"""The CLIP4STR / PARSeq evaluation protocol as an MMEngine metric."""
from collections import Counter
from typing import Dict, List, Sequence

from mmengine.evaluator import BaseMetric
from mmocr.registry import METRICS
from rapidfuzz.distance import Levenshtein

from ..datasets.label_checks import check_kept
from ..text.rules import LabelRules


@METRICS.register_module()
class STRBenchmarkMetric(BaseMetric):
    """Word accuracy and 1 - normalised edit distance under the reference protocol.

    Ground truth goes through the reference's label rules (whitespace removed, ``label_folding``
    (NFKD to ASCII by default), longer than ``max_label_length`` or empty after the charset: not
    counted); the prediction is mapped onto the same charset; a sample is correct when both
    strings are equal. A ground truth of which the rules drop more than half (e.g. Greek labels
    under the default ASCII folding) is a one-line error naming the rule, an example label and
    the setting to change, never an accuracy over no samples.

    Args:
        charset: '36' (case-insensitive alphanumeric, the default of the papers), '62' (cased
            alphanumeric), '94' (all printable ASCII), a dictionary file ('charset_greek.txt'
            or a path) or the characters themselves.
        max_label_length: 25.
        label_folding: 'ascii' (the reference), 'nfc' (Unicode kept; predictions composed the
            same way) or 'none'.
        prefix: metric prefix (default 'str'): keys ``str/accuracy``, ``str/1-NED``,
            ``str/num_samples``.
        pred_field: the prediction scored: 'pred_text' (the model's answer; CLIP4STR's cross
            branch) or e.g. 'visual_pred_text' (CLIP4STR's visual branch).
    """

    default_prefix = 'str'

    def __init__(self, charset: str = '36', max_label_length: int = 25,
                 label_folding: str = 'ascii', collect_device: str = 'cpu', prefix: str = None,
                 pred_field: str = 'pred_text'):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.pred_field = pred_field
        self.rules = LabelRules(charset, max_label_length, label_folding=label_folding)

    def process(self, data_batch, data_samples: Sequence) -> None:
        for sample in data_samples:
            raw = sample.get('gt_text').get('item')
            gt, dropped = self.rules.clean(raw)
            pred = sample.get(self.pred_field)
            if pred is None:
                raise KeyError(f'STRBenchmarkMetric: the predictions have no {self.pred_field!r}')
            pred = self.rules.adapt(self.rules.fold_prediction(pred.get('item')))
            self.results.append(dict(gt=gt, pred=pred, dropped=dropped, raw=raw))

    def compute_metrics(self, results: List[Dict]) -> Dict:
        scored = [r for r in results if r['gt'] is not None]
        dropped = Counter(r['dropped'] for r in results if r['gt'] is None)
        examples = {}
        for r in results:
            if r['gt'] is None:
                examples.setdefault(r['dropped'], r['raw'])
        check_kept(f'STRBenchmarkMetric ({self.prefix})', len(scored), len(results),
                   dict(dropped), 'the ground truth', self.rules, examples)
        n = len(scored)
        correct = sum(r['pred'] == r['gt'] for r in scored)
        ned = sum(1 - Levenshtein.normalized_distance(r['pred'], r['gt']) for r in scored)
        return {'accuracy': round(correct / n, 4),
                '1-NED': round(ned / n, 4),
                'num_samples': n}
