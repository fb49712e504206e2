"""Zero-shot retrieval: does an image find its own word among the held-out candidate words?"""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmocr.registry import METRICS


@METRICS.register_module()
class ZeroShotRetrievalMetric(BaseMetric):
    """Image -> text retrieval over the distinct captions of the evaluated set.

    Every sample carries ``img_embed`` and ``text_embed`` (``(D,)``, L2-normalised: the image's
    and its own caption's) and the metainfo ``caption`` (:meth:`ContrastiveCLIP.predict`). The
    candidates are the distinct captions of the whole set (held-out words on a val / test split);
    an image scores a hit at k when its own caption is among the k candidates most similar to it
    (cosine). A candidate exactly as similar as the own caption ranks before it when it comes
    first in the set, so ties are never free hits. Keys: ``{prefix}/top{k}`` in percent and
    ``{prefix}/num_candidates``.

    Args:
        topk: the k values reported.
        min_candidates: a set with fewer distinct captions is refused (a retrieval among a
            handful of words says little).
        prefix: default 'retrieval'.
    """

    default_prefix = 'retrieval'

    def __init__(self, topk: Sequence[int] = (1, 5), min_candidates: int = 100,
                 collect_device: str = 'cpu', prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = tuple(topk)
        self.min_candidates = min_candidates

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:     # data samples as dicts: metainfo keys at the top
            self.results.append(dict(img=sample['img_embed'].detach().float().cpu(),
                                     text=sample['text_embed'].detach().float().cpu(),
                                     caption=sample['caption']))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        index, texts = {}, []
        for result in results:
            if result['caption'] not in index:
                index[result['caption']] = len(texts)
                texts.append(result['text'])
        if len(texts) < self.min_candidates:
            raise ValueError(f'ZeroShotRetrievalMetric: only {len(texts)} distinct captions to '
                             f'retrieve among (min_candidates={self.min_candidates}): evaluate '
                             'on a larger set or lower min_candidates')
        images = torch.stack([r['img'] for r in results])
        targets = torch.tensor([index[r['caption']] for r in results])
        similarity = images @ torch.stack(texts).T                        # (N, C)
        own = similarity.gather(1, targets[:, None])
        # rank of the own caption: candidates more similar, plus equally similar ones before it
        ties_before = (similarity == own) & (torch.arange(len(texts))[None] < targets[:, None])
        rank = (similarity > own).sum(1) + ties_before.sum(1)
        metrics = {f'top{k}': round(100.0 * (rank < k).float().mean().item(), 2)
                   for k in self.topk}
        metrics['num_candidates'] = len(texts)
        MMLogger.get_current_instance().info(
            f'zero-shot retrieval: {len(results)} images among {len(texts)} candidate words: '
            + ', '.join(f'top-{k} {metrics[f"top{k}"]:.2f} %' for k in self.topk))
        return metrics
