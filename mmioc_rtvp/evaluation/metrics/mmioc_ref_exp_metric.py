# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Grounding metric: mmdet's RefExpMetric with mean IoU and a breakdown."""
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmdet.evaluation import RefExpMetric
from mmdet.evaluation.functional import bbox_overlaps
from mmengine.logging import MMLogger

from mmioc_rtvp.registry import METRICS


@METRICS.register_module()
class MMIOCRefExpMetric(RefExpMetric):
    """Precision@k, mean top-1 IoU and a per-supercategory breakdown.

    The ground truth is an MDETR-style grounding file
    (``tools/dataset_converters/make_grounding_split.py``): one ``images``
    record per expression with exactly one annotation, its referent, whose
    ``category_id`` names an MMIOC category (and so a supercategory).
    Predictions are read as mmdet's :class:`RefExpMetric` reads them (its
    ``process``): the boxes of ``pred_instances`` in their output order,
    the detector's ranking. For an expression with target box t and ranked
    boxes :math:`b_1, ..., b_N` (original image pixels):

    - ``precision@k`` (k in ``topk``): the fraction of expressions with
      :math:`\\max_{n \\le \\min(k, N)} IoU(b_n, t) \\ge` ``iou_thrs``,
      exactly RefExpMetric's rule; ``precision@1`` is the paper's Acc@0.5.
      An expression without any predicted box is a miss.
    - ``mean_iou``: the mean of :math:`IoU(b_1, t)` (0 without a box).
    - ``mean_precision``: the mean of the ``precision@k`` (the key
      ``save_best`` can use, as RefExpMetric's).
    - ``<supercategory>/precision@k`` and ``<supercategory>/mean_iou``: the
      same over the expressions whose referent is of that supercategory.
    - ``num_expressions``: how many expressions were evaluated.

    RefExpMetric itself only reports the ``refcoco`` / ``refcoco+`` /
    ``refcocog`` sub-sets of MDETR's files; this subclass keeps its loading
    and ``process`` and reports over the whole file instead.

    Args:
        ann_file (str): The grounding file (MDETR-style COCO JSON).
        metric (str): Only ``'bbox'``.
        topk (Sequence[int]): The k of precision@k. Defaults to (1, 5, 10).
        iou_thrs (float): IoU threshold of a hit. Defaults to 0.5.
        **kwargs: ``collect_device``, ``prefix`` (default ``'grounding'``).

    Raises:
        ValueError: An expression record of ``ann_file`` does not have
            exactly one annotation (the message names it and the file).
    """
    default_prefix: Optional[str] = 'grounding'

    def __init__(self,
                 ann_file: str,
                 metric: str = 'bbox',
                 topk: Sequence[int] = (1, 5, 10),
                 iou_thrs: float = 0.5,
                 **kwargs) -> None:
        if metric != 'bbox':
            raise ValueError(f'{type(self).__name__}: only metric="bbox" is '
                             f'supported, got {metric!r}')
        if not topk or any(int(k) < 1 for k in topk):
            raise ValueError(f'{type(self).__name__}: topk must be positive '
                             f'integers, got {topk!r}')
        super().__init__(
            ann_file=ann_file,
            metric=metric,
            topk=tuple(int(k) for k in topk),
            iou_thrs=iou_thrs,
            **kwargs)
        self.ann_file = ann_file
        self._targets = self._load_targets()

    def _load_targets(self) -> Dict[int, dict]:
        """Each expression's target box (xyxy) and supercategory."""
        cats = {c['id']: c for c in self.coco.dataset['categories']}
        targets = {}
        for img_id in self.coco.get_img_ids():
            ann_ids = self.coco.get_ann_ids(img_ids=[img_id])
            if len(ann_ids) != 1:
                raise ValueError(
                    f'{self.ann_file}: expression {img_id} has '
                    f'{len(ann_ids)} annotations; a grounding file needs '
                    'exactly one referent per expression')
            ann = self.coco.load_anns(ann_ids)[0]
            x, y, w, h = ann['bbox']
            cat = cats.get(ann['category_id'], {})
            targets[img_id] = dict(
                bbox=np.array([[x, y, x + w, y + h]], dtype=np.float32),
                supercategory=str(cat.get('supercategory', 'unknown')))
        return targets

    @staticmethod
    def hits(ious: np.ndarray, topk: Sequence[int],
             iou_thr: float) -> List[bool]:
        """RefExpMetric's hit rule for one expression.

        Args:
            ious (np.ndarray): (N,) IoU of each ranked box with the target.
            topk (Sequence[int]): The k values.
            iou_thr (float): IoU threshold.

        Returns:
            list[bool]: Per k, whether a box among the first k hits.
        """
        return [bool(len(ious)) and float(np.max(ious[:k])) >= iou_thr
                for k in topk]

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Precision@k, mean IoU and the per-supercategory breakdown.

        Args:
            results (list[dict]): ``img_id``, ``bboxes`` (N, 4) xyxy and
                ``scores`` (N,) per expression (from ``process``).

        Returns:
            dict[str, float]: See the class docstring.
        """
        logger: MMLogger = MMLogger.get_current_instance()
        groups: Dict[str, List[list]] = defaultdict(list)
        for result in results:
            img_id = result['img_id']
            if img_id not in self._targets:
                raise ValueError(f'{self.ann_file}: a prediction for '
                                 f'expression {img_id}, which the file does '
                                 'not have')
            target = self._targets[img_id]
            bboxes = np.asarray(result['bboxes'], np.float32).reshape(-1, 4)
            ious = bbox_overlaps(bboxes, target['bbox'])[:, 0]
            row = self.hits(ious, self.topk, self.iou_thrs) + [
                float(ious[0]) if len(ious) else 0.0
            ]
            groups['all'].append(row)
            groups[target['supercategory']].append(row)

        out: Dict[str, float] = {}
        for name in ['all'] + sorted(k for k in groups if k != 'all'):
            table = np.asarray(groups[name], dtype=np.float64)
            prefix = '' if name == 'all' else f'{name}/'
            for i, k in enumerate(self.topk):
                out[f'{prefix}precision@{k}'] = float(table[:, i].mean())
            out[f'{prefix}mean_iou'] = float(table[:, -1].mean())
        if not groups:
            logger.warning(f'{type(self).__name__}: no predictions to '
                           'evaluate')
            return dict(mean_precision=0.0, num_expressions=0.0)
        out['mean_precision'] = float(
            np.mean([out[f'precision@{k}'] for k in self.topk]))
        out['num_expressions'] = float(len(groups['all']))
        missing = len(self._targets) - len(groups['all'])
        if missing:
            logger.warning(f'{type(self).__name__}: {missing} expressions '
                           f'of {self.ann_file} have no prediction')
        logger.info(f'{type(self).__name__}: ' + ', '.join(
            f'{k} {v:.4f}' for k, v in out.items() if '/' not in k))
        return out
