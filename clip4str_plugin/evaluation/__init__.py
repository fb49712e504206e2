"""The papers' recognition protocol and a sample-weighted multi-dataset evaluator."""
from .str_metric import STRBenchmarkMetric
from .weighted_evaluator import WeightedMultiDatasetsEvaluator

__all__ = ['STRBenchmarkMetric', 'WeightedMultiDatasetsEvaluator']
