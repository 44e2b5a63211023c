# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Exact-match accuracy of VQA answers, per question type."""
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

from mmengine.evaluator import BaseMetric

from mmioc_rtvp.registry import METRICS
from .question import CHECKABLE_TYPES, normalise


@METRICS.register_module()
class VQAExactMatch(BaseMetric):
    """Exact-match accuracy of answers against reference answers.

    Both answers are normalised (:func:`normalise`: lower case, single
    spaces, no surrounding punctuation) and compared as strings. An item
    without a prediction (its image could not be read, ...) counts as
    wrong, so the accuracy is always over every question of the set.

    Each processed sample is a dict with ``question_type``, ``gt_answer``
    and ``pred_answer`` (``None`` when missing).

    ``compute_metrics`` returns ``accuracy`` (all questions), ``accuracy/
    <type>`` and ``num/<type>`` for every type present, and ``num_missing``
    (items without a prediction).

    Args:
        types (Sequence[str]): Types always reported (0 questions -> the
            type is left out). Defaults to the checkable types.
        collect_device (str): See :class:`BaseMetric`.
        prefix (str, optional): See :class:`BaseMetric`.
    """
    default_prefix: Optional[str] = 'vqa'

    def __init__(self,
                 types: Sequence[str] = CHECKABLE_TYPES,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.types = tuple(types)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Store ``(type, correct, missing)`` of every sample."""
        for sample in data_samples:
            pred = sample.get('pred_answer')
            correct = pred is not None and \
                normalise(str(pred)) == normalise(str(sample['gt_answer']))
            self.results.append(
                (sample['question_type'], bool(correct), pred is None))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        """Accuracy overall and per type."""
        per_type = defaultdict(list)
        for qtype, correct, _ in results:
            per_type[qtype].append(correct)
        metrics: Dict[str, float] = {}
        if results:
            metrics['accuracy'] = sum(c for _, c, _ in results) / len(results)
        order = list(self.types) + sorted(set(per_type) - set(self.types))
        for qtype in order:
            if per_type.get(qtype):
                hits = per_type[qtype]
                metrics[f'accuracy/{qtype}'] = sum(hits) / len(hits)
                metrics[f'num/{qtype}'] = len(hits)
        metrics['num_missing'] = sum(m for _, _, m in results)
        return metrics
