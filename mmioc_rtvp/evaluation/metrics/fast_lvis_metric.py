# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import os.path as osp
import tempfile
from collections import OrderedDict
from typing import Dict

import numpy as np
from mmdet.evaluation import LVISMetric
from mmengine.logging import MMLogger

from mmioc_rtvp.registry import METRICS
from ..functional.coco_evaluation import detections_array
from ..functional.lvis_evaluation import evaluate_lvis_bbox


@METRICS.register_module()
class FastLVISMetric(LVISMetric):
    """mmdet's ``LVISMetric`` whose bbox evaluation runs on numpy 2.

    lvis-api 0.5.3 fails in ``LVISEval.accumulate`` on numpy >= 1.24
    (``np.float``), so ``mmdet.LVISMetric`` cannot evaluate here. This
    metric keeps mmdet's data handling (``process``, the ground truth read
    by lvis-api's ``LVIS``) and evaluates with
    :func:`~mmioc_rtvp.evaluation.functional.lvis_evaluation.evaluate_lvis_bbox`
    (hotcoco's LVIS mode; its figures equal lvis-api's algorithm, tested).
    Keys are mmdet's: ``bbox_AP``, ``bbox_AP50``, ``bbox_AP75``,
    ``bbox_APs``, ``bbox_APm``, ``bbox_APl``, ``bbox_APr``, ``bbox_APc``,
    ``bbox_APf`` (``metric_items`` selects among them and the AR figures),
    unrounded. At most 300 detections per image are evaluated (lvis-api's
    ``LVISResults`` default), over every image of the annotation file.
    ``format_only`` and metrics other than ``'bbox'`` are left to mmdet.

    Args:
        *args: Positional arguments of ``mmdet.LVISMetric``.
        max_dets (int): Detections kept per image. Defaults to 300.
        **kwargs: Keyword arguments of ``mmdet.LVISMetric``.
    """

    def __init__(self, *args, max_dets: int = 300, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.max_dets = max_dets

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """LVIS bbox figures of the processed results.

        Args:
            results (list): ``(gt, pred)`` pairs from :meth:`process`.

        Returns:
            dict[str, float]: ``bbox_AP`` first, see the class docstring.
        """
        if self.format_only or self.metrics != ['bbox']:
            return super().compute_metrics(results)
        from lvis import LVIS
        logger: MMLogger = MMLogger.get_current_instance()
        gts, preds = zip(*results)
        if self._lvis_api is None:
            with tempfile.TemporaryDirectory() as tmp_dir:
                path = self.gt_to_coco_json(
                    gt_dicts=gts, outfile_prefix=osp.join(tmp_dir, 'gt'))
                self._lvis_api = LVIS(path)
        if self.cat_ids is None:
            self.cat_ids = self._lvis_api.get_cat_ids()
        if self.outfile_prefix is not None:
            self.results2json(preds, self.outfile_prefix)
        cat_ids = np.asarray(self.cat_ids, dtype=np.int64)
        dets = detections_array([p['img_id'] for p in preds],
                                [p['bboxes'] for p in preds],
                                [p['scores'] for p in preds],
                                [cat_ids[p['labels']] for p in preds])
        logger.info(f'Evaluating LVIS bbox ({len(dets)} detections)...')
        figures = evaluate_lvis_bbox(self._lvis_api.dataset, dets,
                                     self.max_dets)
        items = self.metric_items or list(figures)[:9]
        unknown = [k for k in items if k not in figures]
        if unknown:
            raise KeyError(f'metric items {unknown} are not supported; '
                           f'choose among {list(figures)}')
        logger.info('LVIS bbox: ' + ', '.join(f'{k} {v:.4f}'
                                              for k, v in figures.items()))
        return OrderedDict((f'bbox_{k}', figures[k]) for k in items)
