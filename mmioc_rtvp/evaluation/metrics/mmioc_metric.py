# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import os.path as osp
import tempfile
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmdet.datasets.api_wrappers import COCO
from mmdet.evaluation import CocoMetric
from mmengine.fileio import load
from mmengine.logging import MMLogger

from mmioc_rtvp.registry import METRICS
from ..functional.ap_summary import (ap_row, group_rows, harmonic_mean,
                                     markdown_table, write_csv)
from ..functional.coco_evaluation import (COCO_BACKENDS, COCO_STAT_NAMES,
                                          detections_array,
                                          evaluate_coco_bbox)

#: mmdet's names of the 12 ``COCOeval.stats`` figures (``metric_items``);
#: the AR figures are named after mmdet's default max detections.
_MMDET_ITEMS = ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l',
                'AR@100', 'AR@300', 'AR@1000', 'AR_s@1000', 'AR_m@1000',
                'AR_l@1000')


def load_class_names(spec: Union[str, Sequence[str]]) -> List[str]:
    """Class names from a list or a JSON file.

    Args:
        spec (str | Sequence[str]): Names, or a JSON file holding either a
            COCO dict (its ``categories``' names, e.g.
            ``annotations/open_val_seen.json``), a dict with a ``seen`` list
            (``splits/open_classes.json`` of the toolkit; entries are names
            or ``{"name": ...}``), or a list of names.

    Returns:
        list[str]: The names.
    """
    if not isinstance(spec, str):
        return [str(n) for n in spec]
    data = load(spec)
    if isinstance(data, dict) and isinstance(data.get('categories'), list):
        items = data['categories']
    elif isinstance(data, dict) and isinstance(data.get('seen'), list):
        items = data['seen']
    elif isinstance(data, list):
        items = data
    else:
        raise ValueError(f'{spec}: expected a COCO file (categories), a '
                         f'{{"seen": [...]}} record or a list of names')
    names = []
    for item in items:
        name = item.get('name') if isinstance(item, dict) else item
        if not isinstance(name, str):
            raise ValueError(f'{spec}: class entry without a name: {item!r}')
        names.append(name)
    return names


def available_backend(backend: str) -> str:
    """``backend`` if it can run here, else ``'pycocotools'`` (logged).

    Args:
        backend (str): One of :data:`COCO_BACKENDS`.

    Returns:
        str: The backend that will run.
    """
    if backend not in COCO_BACKENDS:
        raise ValueError(f'MMIOCMetric: unknown backend {backend!r}; '
                         f'choose one of {COCO_BACKENDS}')
    if backend == 'hotcoco':
        try:
            import hotcoco  # noqa: F401
        except ImportError:
            MMLogger.get_current_instance().warning(
                'MMIOCMetric: hotcoco is not installed, evaluating with '
                'pycocotools (same figures, slower; pip install hotcoco)')
            return 'pycocotools'
    return backend


def with_unrounded(figures: Dict[str, float]) -> Dict[str, float]:
    """mmdet's 3-decimal values under the figures' keys, then the exact
    values under ``<key>_unrounded``. Rounded as mmdet rounds (numpy's
    ``round`` of a float64, which can differ from Python's on a last digit).

    Args:
        figures (dict[str, float]): Unrounded figures.

    Returns:
        dict[str, float]: ``2 * len(figures)`` entries, the rounded ones
        first, in ``figures``' order.
    """
    out = OrderedDict(
        (key, float(round(np.float64(value), 3)))
        for key, value in figures.items())
    out.update((f'{key}_unrounded', float(value))
               for key, value in figures.items())
    return out



@METRICS.register_module()
class MMIOCMetric(CocoMetric):
    """``mmdet.CocoMetric`` on a fast exact backend, with MMIOC's
    open-vocabulary and hierarchy figures.

    A drop-in for ``mmdet.CocoMetric``: for the same inputs it returns the
    same keys with the same values (mmdet rounds to 3 decimals):
    ``bbox_mAP``, ``bbox_mAP_50``, ... (``metric_items`` selects among
    mmdet's 12 names) and, with ``classwise=True``, ``<class>_precision``.
    On top of them:

    - ``<key>_unrounded`` for every figure (e.g. ``bbox_mAP_unrounded``):
      the value before rounding, for comparisons finer than 0.001;
    - with ``seen_classes`` (a generalized vocabulary: seen and unseen
      prompts together): ``bbox_mAP_seen``, ``bbox_mAP_unseen``,
      ``bbox_mAP_hm`` (harmonic mean) and the same three for AP50,
      rounded like mmdet's, plus their ``_unrounded`` keys;
    - a per-class table (AP, AP50, AP75, APs/m/l, ground-truth boxes,
      supercategory, scene, seen/unseen) and per-group tables (seen/unseen,
      supercategory, scene) written as CSV and markdown to ``table_dir``
      and logged.

    Two deliberate differences: ``bbox_mAP`` (or the first of
    ``metric_items``) is always the first key, what ``save_best='auto'``
    follows (mmdet puts the classwise keys first); and without any
    detection the figures are evaluated (AP 0) where mmdet logs an error
    and returns an empty dict.

    The evaluation runs once (evaluate + accumulate + summarize) on
    ``backend``: ``'hotcoco'`` (default; its figures and precision array
    equal pycocotools', tested, and it is much faster,
    ``benchmarks/bench_eval.py``) or ``'pycocotools'``. When hotcoco is not
    installed the metric logs it and runs pycocotools. Detections go to the
    backend as one array: no result JSON is written unless
    ``outfile_prefix`` is set. ``format_only`` and metrics other than
    ``'bbox'`` are left to ``mmdet.CocoMetric``.

    A group's AP is the mean of ``precision`` over the group's classes (see
    :mod:`~mmioc_rtvp.evaluation.functional.ap_summary`), which equals what
    COCOeval reports when its ``catIds`` are that group. The hierarchy of
    each class comes from the dataset's metainfo (``supercategories`` /
    ``scenes`` of ``MMIOCDataset``), else from the ``supercategory`` /
    ``scene`` fields of the annotation file's categories.

    Args:
        *args: Positional arguments of ``mmdet.CocoMetric``.
        backend (str): ``'hotcoco'`` (default) or ``'pycocotools'``.
        seen_classes (str | Sequence[str], optional): The seen classes of a
            generalized vocabulary: names, or a JSON file (see
            :func:`load_class_names`; e.g. the ``open_val_seen.json`` of the
            same split). Every other evaluated class is unseen. Every name
            must be one of the evaluated classes.
        table_dir (str, optional): Where to write the tables
            (``<name>_per_class.{csv,md}`` and ``<name>_per_group.csv``, the
            markdown file holding every table; ``<name>`` is the metric's
            prefix and the annotation file's stem, e.g.
            ``coco_open_val_generalized``). Default: the directory of the
            current log file (the run's ``log_dir``); no file when there is
            none.
        **kwargs: Keyword arguments of ``mmdet.CocoMetric``.
    """

    def __init__(self,
                 *args,
                 backend: str = 'hotcoco',
                 seen_classes: Optional[Union[str, Sequence[str]]] = None,
                 table_dir: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.backend = available_backend(backend)
        self.seen_names = (None if seen_classes is None else
                           load_class_names(seen_classes))
        self.table_dir = table_dir
        ann_file = kwargs.get('ann_file', args[0] if args else None)
        self.ann_file = ann_file
        # tables of several evaluations in one run do not overwrite each
        # other: <prefix>_<annotation file stem>_per_class.csv
        self.table_name = self.prefix or 'metric'
        if ann_file:
            stem = osp.splitext(osp.basename(ann_file))[0]
            self.table_name = f'{self.table_name}_{stem}'

    @property
    def _iou_thrs(self) -> np.ndarray:
        """``(T,)`` float64 IoU thresholds (``self.iou_thrs`` stays what
        the caller gave, as in mmdet)."""
        return np.atleast_1d(np.asarray(self.iou_thrs, dtype=np.float64))

    # ------------------------------------------------------------------
    def _class_table(self, precision: np.ndarray,
                     roles: Optional[List[str]]) -> List[dict]:
        """One row per evaluated class, in label order."""
        meta = self.dataset_meta or {}
        rows = []
        num_gt = self._num_gt()
        for k, cat_id in enumerate(self.cat_ids):
            cat = self._coco_api.cats[cat_id]
            row = dict(
                category=cat['name'],
                id=int(cat_id),
                supercategory=self._hierarchy(meta, 'supercategories',
                                              'supercategory', k, cat),
                scene=self._hierarchy(meta, 'scenes', 'scene', k, cat))
            if roles is not None:
                row['role'] = roles[k]
            row['gt'] = int(num_gt[k])
            row.update(
                ap_row(precision, self._iou_thrs, [k], self.proposal_nums))
            rows.append(row)
        return rows

    @staticmethod
    def _hierarchy(meta: dict, meta_key: str, cat_key: str, k: int,
                   cat: dict) -> str:
        values = meta.get(meta_key)
        if values is not None and len(values) > k:
            return str(values[k])
        return str(cat.get(cat_key, ''))

    def _num_gt(self) -> np.ndarray:
        """``(K,)`` non-crowd ground-truth boxes of every evaluated class
        on the evaluated images."""
        index = {c: k for k, c in enumerate(self.cat_ids)}
        img_ids = set(self.img_ids)
        counts = np.zeros(len(self.cat_ids), dtype=np.int64)
        for ann in self._coco_api.dataset.get('annotations') or []:
            k = index.get(ann['category_id'])
            if (k is not None and not ann.get('iscrowd', 0)
                    and ann['image_id'] in img_ids):
                counts[k] += 1
        return counts

    def _roles(self) -> Optional[List[str]]:
        """``'seen'`` / ``'unseen'`` of every evaluated class, or None."""
        if self.seen_names is None:
            return None
        names = [self._coco_api.cats[c]['name'] for c in self.cat_ids]
        unknown = sorted(set(self.seen_names) - set(names))
        if unknown:
            raise ValueError(
                f'MMIOCMetric: seen classes not among the evaluated '
                f'classes: {unknown}')
        seen = set(self.seen_names)
        return ['seen' if n in seen else 'unseen' for n in names]

    def _table_dir(self) -> Optional[str]:
        if self.table_dir is not None:
            return self.table_dir
        log_file = getattr(MMLogger.get_current_instance(), 'log_file',
                           None)
        return osp.dirname(log_file) if log_file else None

    def _report(self, class_rows: List[dict], group_tables: Dict[str, list],
                logger: MMLogger) -> None:
        """Log the tables and write them as CSV and markdown."""
        prefix = self.table_name
        sections = [(f'{prefix}: AP per class', class_rows)]
        sections += [(f'{prefix}: AP per {name}', rows)
                     for name, rows in group_tables.items()]
        text = '\n\n'.join(f'### {title}\n\n{markdown_table(rows)}'
                           for title, rows in sections)
        logger.info('\n' + text)
        out_dir = self._table_dir()
        if out_dir is None:
            return
        write_csv(osp.join(out_dir, f'{prefix}_per_class.csv'), class_rows)
        write_csv(
            osp.join(out_dir, f'{prefix}_per_group.csv'),
            [dict(level=name, **row) for name, rows in group_tables.items()
             for row in rows])
        with open(osp.join(out_dir, f'{prefix}_per_class.md'), 'w',
                  encoding='utf-8') as f:
            f.write(text + '\n')
        logger.info(f'{prefix}: AP tables written to {out_dir}')

    # ------------------------------------------------------------------
    def compute_metrics(self, results: list) -> Dict[str, float]:
        """COCO figures, seen / unseen / harmonic-mean AP and AP tables.

        Args:
            results (list): ``(gt, pred)`` pairs from :meth:`process`.

        Returns:
            dict[str, float]: ``bbox_mAP`` first (what ``save_best='auto'``
            follows), see the class docstring for the other keys.
        """
        if self.format_only or self.metrics != ['bbox']:
            return super().compute_metrics(results)
        logger: MMLogger = MMLogger.get_current_instance()
        gts, preds = zip(*results)
        if self._coco_api is None:
            with tempfile.TemporaryDirectory() as tmp_dir:
                path = self.gt_to_coco_json(
                    gt_dicts=gts, outfile_prefix=osp.join(tmp_dir, 'gt'))
                self._coco_api = COCO(path)
        if self.cat_ids is None:
            self.cat_ids = self._coco_api.get_cat_ids(
                cat_names=self.dataset_meta['classes'])
        if self.img_ids is None:
            self.img_ids = self._coco_api.get_img_ids()
        unknown = sorted({p['img_id'] for p in preds} - set(self.img_ids))
        if unknown:
            raise ValueError(
                f'MMIOCMetric: {len(unknown)} evaluated images are not in '
                f'the annotation file {self.ann_file or "(converted)"} '
                f'(e.g. image id {unknown[0]}): the evaluator and the '
                f'dataloader read different annotation files')
        if self.outfile_prefix is not None:
            self.results2json(preds, self.outfile_prefix)

        dets = detections_array(
            [p['img_id'] for p in preds], [p['bboxes'] for p in preds],
            [p['scores'] for p in preds],
            [np.asarray(self.cat_ids, dtype=np.int64)[p['labels']]
             for p in preds])
        logger.info(f'Evaluating bbox ({self.backend}, {len(dets)} '
                    f'detections on {len(self.img_ids)} images)...')
        result = evaluate_coco_bbox(
            self._coco_api.dataset,
            dets,
            backend=self.backend,
            cat_ids=self.cat_ids,
            img_ids=self.img_ids,
            max_dets=self.proposal_nums,
            iou_thrs=self._iou_thrs)

        items = self.metric_items or _MMDET_ITEMS[:6]
        for item in items:
            if item not in _MMDET_ITEMS:
                raise KeyError(f'metric item "{item}" is not supported')
        figures = OrderedDict(
            (f'bbox_{item}', float(result.stats[_MMDET_ITEMS.index(item)]))
            for item in items)
        stats = ' '.join(f'{v:.4f}' for v in result.stats[:6])
        logger.info(f'bbox_mAP_copypaste: {stats} '
                    f'({", ".join(COCO_STAT_NAMES[:6])})')
        if self.classwise:
            figures.update(self._classwise_figures(result.precision))

        roles = self._roles()
        class_rows = self._class_table(result.precision, roles)
        num_gt = [r['gt'] for r in class_rows]
        group_tables = OrderedDict()
        if roles is not None:
            group_tables['role'] = group_rows(result.precision,
                                              self._iou_thrs, roles, num_gt,
                                              self.proposal_nums)
            by_role = {r['group']: r for r in group_tables['role']}
            for src, key in (('AP', 'mAP'), ('AP50', 'mAP_50')):
                seen = by_role.get('seen', {}).get(src, -1.0)
                unseen = by_role.get('unseen', {}).get(src, -1.0)
                figures[f'bbox_{key}_seen'] = seen
                figures[f'bbox_{key}_unseen'] = unseen
                figures[f'bbox_{key}_hm'] = harmonic_mean(seen, unseen)
        for level in ('supercategory', 'scene'):
            group_tables[level] = group_rows(
                result.precision, self._iou_thrs,
                [r[level] for r in class_rows], num_gt, self.proposal_nums)
        self._report(class_rows, group_tables, logger)
        return with_unrounded(figures)

    def _classwise_figures(self, precision: np.ndarray) -> Dict[str, float]:
        """``<class>_precision`` of every evaluated class, as mmdet's
        ``classwise``: the mean of ``precision[:, :, k, all areas, last
        max-detection setting]`` over its valid entries, NaN if none.

        Args:
            precision (np.ndarray): ``(T, R, K, A, M)``.

        Returns:
            dict[str, float]: Unrounded, in label order.
        """
        figures = OrderedDict()
        for k, cat_id in enumerate(self.cat_ids):
            values = precision[:, :, k, 0, -1]
            values = values[values > -1]
            name = self._coco_api.cats[cat_id]['name']
            figures[f'{name}_precision'] = (float(np.mean(values))
                                            if values.size else float('nan'))
        return figures

