"""MMOCR's multi-dataset evaluator plus a sample-weighted average over the datasets."""
from collections import OrderedDict

from mmocr.evaluation.evaluator import MultiDatasetsEvaluator
from mmocr.registry import EVALUATOR


@EVALUATOR.register_module()
class WeightedMultiDatasetsEvaluator(MultiDatasetsEvaluator):
    """Adds ``<average_prefix>/<metric key>`` for every per-dataset key: the average over the
    datasets weighted by their sample counts (the metric's ``num_samples`` when it reports one,
    else the dataset sizes). Usable as ``save_best='average/str/accuracy'``.
    """

    def __init__(self, metrics, dataset_prefixes, average_prefix: str = 'average'):
        super().__init__(metrics, dataset_prefixes)
        self.average_prefix = average_prefix

    def evaluate(self, size: int) -> dict:
        results = super().evaluate(size)
        if not results:
            return results
        ends = self.dataset_meta.get('cumulative_sizes', [size]) if self.dataset_meta else [size]
        sizes = dict(zip(self.dataset_prefixes, [e - s for s, e in zip([0] + ends[:-1], ends)]))
        sums, weights = OrderedDict(), OrderedDict()
        for key, value in results.items():
            dataset, _, rest = key.partition('/')
            if dataset not in sizes or rest.endswith('num_samples'):
                continue
            counted = results.get(f'{dataset}/{rest.rpartition("/")[0]}/num_samples'
                                  if '/' in rest else f'{dataset}/num_samples')
            weight = sizes[dataset] if counted is None else counted
            sums[rest] = sums.get(rest, 0.0) + weight * value
            weights[rest] = weights.get(rest, 0) + weight
        for rest, total in sums.items():
            if weights[rest]:
                results[f'{self.average_prefix}/{rest}'] = round(total / weights[rest], 4)
        return results
