from .e2e_metric import E2EHmeanMetric
from .str_metric import STRBenchmarkMetric
from .weighted_evaluator import WeightedMultiDatasetsEvaluator

__all__ = ['E2EHmeanMetric', 'STRBenchmarkMetric', 'WeightedMultiDatasetsEvaluator']
