"""The papers' recognition protocol, a sample-weighted multi-dataset evaluator, CLIP's
zero-shot word retrieval and the test predictions' dump."""
from .dump_predictions import DumpTextPredictions
from .retrieval_metric import ZeroShotRetrievalMetric
from .str_metric import STRBenchmarkMetric
from .weighted_evaluator import WeightedMultiDatasetsEvaluator

__all__ = ['DumpTextPredictions', 'STRBenchmarkMetric', 'WeightedMultiDatasetsEvaluator',
           'ZeroShotRetrievalMetric']
