"""The papers' recognition protocol, a sample-weighted multi-dataset evaluator and CLIP's
zero-shot word retrieval."""
from .retrieval_metric import ZeroShotRetrievalMetric
from .str_metric import STRBenchmarkMetric
from .weighted_evaluator import WeightedMultiDatasetsEvaluator

__all__ = ['STRBenchmarkMetric', 'WeightedMultiDatasetsEvaluator', 'ZeroShotRetrievalMetric']
