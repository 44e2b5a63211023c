# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import colorsys
import logging
import os.path as osp
from collections.abc import Sequence as SequenceABC
from typing import (Any, Dict, Iterator, List, Optional, Sequence, Tuple,
                    Union)

import numpy as np
from mmengine.dataset import force_full_init
from mmengine.fileio import get_local_path
from mmengine.logging import print_log
from mmyolo.datasets import YOLOv5CocoDataset

from mmioc_rtvp.registry import DATASETS, TASK_UTILS
from mmioc_rtvp.format.compact_annotations import (
    JsonArraySpan, JsonSyntaxError, build_compact_annotations, close_buffer,
    close_members, open_buffer, scan_json_object)
from mmioc_rtvp.format.io import AnnotationArrays
from .file_utils import check_dir, check_file, load_json


@DATASETS.register_module()
class MMIOCDataset(YOLOv5CocoDataset):
    """A split of an MMIOC-format dataset (``docs/dataset_format.md``).

    The classes are not hard-coded: they are the ``categories`` of the
    annotation file, in file order, mapped to labels ``0..K-1`` whatever
    their (possibly non-contiguous) ids. :attr:`metainfo` holds, aligned with
    ``classes``:

    - ``classes`` (tuple[str]): the category names (the subcategories),
    - ``supercategories`` (tuple[str]) and ``scenes`` (tuple[str]): the
      hierarchy of every class,
    - ``texts`` (tuple[tuple[str]]): the prompts of every class, the first
      being the canonical one,
    - ``palette`` (list[tuple[int, int, int]]): a deterministic colour per
      class, for visualisation,
    - ``category_ids`` (tuple[int]): the annotation-file id of every class.

    A user-given ``metainfo=dict(classes=(...))`` selects a subset of the
    categories, as in MMDetection: annotations of other categories are
    dropped, and the labels follow the annotation file's order (which is
    what ``mmdet.CocoMetric`` assumes). Unlike ``mmdet.CocoDataset``, the
    metainfo's ``classes`` are put in that order too (with a warning when
    this reorders them), so that label ``i`` is always ``classes[i]``. Other
    user-given keys override the ones read from the file; per-class keys
    must then have one entry per class.

    Every data info carries the image's ``scene`` when the image record has
    one. Images without annotations (defect-free images) are kept unless
    ``filter_cfg=dict(filter_empty_gt=True)``, which drops images without a
    valid box of the selected classes; ``filter_cfg['min_size']`` drops
    images whose shorter side is smaller.

    Boxes are sanitised like ``mmdet.CocoDataset``: boxes outside the image,
    with a non-positive area or with a side under one pixel are skipped;
    ``iscrowd`` boxes get ``ignore_flag=1``.

    Scale (MMIOC-1M: 1M images, 3M boxes): the dataset keeps no list of
    per-image dicts. The annotation file is memory-mapped, its ``images`` and
    ``annotations`` are parsed with ``orjson`` a chunk at a time (see
    :mod:`~mmioc_rtvp.format.compact_annotations`) into plain numpy arrays
    (image ids, file names as one byte blob, sizes, scenes, per-image offsets
    into ``(R, 4)`` float32 boxes, labels and ignore flags), and
    :meth:`get_data_info` builds the per-image dict on demand. The bbox
    values are therefore float32-exact (what ``LoadAnnotations`` turns them
    into anyway). Data-loader workers forked from the main process share the
    arrays' pages copy-on-write: reading them writes no reference count into
    the shared pages (which is what makes forked workers copy a list of
    dicts), so ``N`` workers hold one copy. ``serialize_data`` (mmengine's
    pickle-per-sample alternative) is accepted for config compatibility and
    has no effect; :attr:`data_list` is a read-only view that builds the data
    infos on access.

    Args:
        *args: Positional arguments of
            :class:`mmyolo.datasets.YOLOv5CocoDataset` (``ann_file`` first).
        data_prefix (dict): Image directory under ``data_root``.
            Defaults to ``dict(img='images/')``.
        lazy_init (bool): Load the data list on first use instead of at
            construction. The metainfo is always read at construction.
            Defaults to False.
        **kwargs: Keyword arguments of
            :class:`mmyolo.datasets.YOLOv5CocoDataset`, such as
            ``data_root``, ``ann_file``, ``metainfo``, ``filter_cfg``,
            ``batch_shapes_cfg``, ``pipeline`` and ``test_mode``.

    Raises:
        FileNotFoundError: The data root, the annotation file or the image
            directory does not exist (the message names the path).
        ValueError: The annotation file is malformed, e.g. a category lacks
            ``texts``, ``supercategory`` or ``scene`` (the message names the
            file and the category id), or ``metainfo['classes']`` names a
            class that the file does not have.
    """

    # the classes come from the annotation file, not from the class
    METAINFO: dict = dict()
    # metainfo entries with one value per class
    PER_CLASS_KEYS: Tuple[str, ...] = ('supercategories', 'scenes', 'texts',
                                       'palette', 'category_ids')
    # keys every category record must have
    CATEGORY_KEYS: Tuple[str, ...] = ('id', 'name', 'supercategory', 'scene',
                                      'texts')

    def __init__(self,
                 *args,
                 data_prefix: dict = dict(img='images/'),
                 lazy_init: bool = False,
                 **kwargs) -> None:
        self._annotations: Optional[AnnotationArrays] = None
        # image index (file order) and batch shape of every sample
        self._sample_images = np.zeros(0, dtype=np.int64)
        self._sample_batch_shapes: Optional[np.ndarray] = None
        # the base classes only set attributes and join paths when
        # ``lazy_init`` is True; the metainfo is then completed from the
        # annotation file before the arrays are built.
        super().__init__(
            *args, data_prefix=data_prefix, lazy_init=True, **kwargs)
        if self.proposal_file is not None:
            raise ValueError('MMIOCDataset does not support proposal_file')
        self._check_paths()
        members = self._read_ann_file()
        self._metainfo = self._metainfo_from_categories(
            members.get('categories'), self._metainfo)
        # keep the scanned file for the imminent full_init only
        self._members: Optional[dict] = None
        if lazy_init:
            close_members(members)
        else:
            self._members = members
            self.full_init()

    # ------------------------------------------------------------------
    # construction helpers
    # ------------------------------------------------------------------
    def _check_paths(self) -> None:
        """Check that the data root, annotation file and image directory
        exist, with one clear line naming the first missing path."""
        if self.data_root:
            check_dir(self.data_root, 'MMIOC data root')
        if not self.ann_file:
            raise ValueError('MMIOCDataset needs an ann_file')
        check_file(self.ann_file, 'MMIOC annotation file')
        if 'img' not in self.data_prefix:
            raise ValueError("MMIOCDataset: data_prefix needs an 'img' entry, "
                             f'got {self.data_prefix}')
        check_dir(self.data_prefix['img'], 'MMIOC image directory')

    def _read_ann_file(self) -> dict:
        """The top-level members of the annotation file; ``images`` and
        ``annotations`` are left unparsed (:class:`JsonArraySpan` over a
        memory map of the file)."""
        with get_local_path(
                self.ann_file, backend_args=self.backend_args) as local_path:
            buffer = open_buffer(local_path)
        try:
            return scan_json_object(buffer, self.ann_file)
        except JsonSyntaxError:
            pass
        close_buffer(buffer)
        # not an object or malformed: the full parser names the problem
        annotations = load_json(self.ann_file, 'MMIOC annotation file',
                                self.backend_args)
        if not isinstance(annotations, dict):
            raise ValueError(
                f'{self.ann_file}: the annotation file must hold '
                f'a JSON object, got {type(annotations).__name__}')
        return annotations

    def _metainfo_from_categories(self, categories: Any,
                                  user_metainfo: dict) -> dict:
        """Build the metainfo from the file's categories and the user's
        metainfo; sets :attr:`all_cat_ids`, :attr:`cat_ids` and
        :attr:`cat2label`.

        Args:
            categories (Any): The ``categories`` value of the annotation
                file.
            user_metainfo (dict): ``METAINFO`` updated with the constructor's
                ``metainfo`` argument.

        Returns:
            dict: The complete metainfo.
        """
        ann_file = self.ann_file
        if not isinstance(categories, list) or not categories:
            raise ValueError(f"{ann_file}: 'categories' must be a non-empty "
                             'list')
        for i, category in enumerate(categories):
            if not isinstance(category, dict):
                raise ValueError(f'{ann_file}: categories[{i}] is not a JSON '
                                 'object')
            cat_id = category.get('id', f'#{i} (no id)')
            for key in self.CATEGORY_KEYS:
                if key not in category:
                    raise ValueError(f'{ann_file}: category id {cat_id} has '
                                     f"no '{key}'")
            texts = category['texts']
            if (not isinstance(texts, list) or not texts
                    or not all(isinstance(t, str) and t for t in texts)):
                raise ValueError(f'{ann_file}: category id {cat_id}: '
                                 "'texts' must be a non-empty list of "
                                 'non-empty strings')
        ids = [c['id'] for c in categories]
        names = [c['name'] for c in categories]
        for values, what in ((ids, 'id'), (names, 'name')):
            seen = set()
            for value in values:
                if value in seen:
                    raise ValueError(f'{ann_file}: duplicate category {what} '
                                     f'{value!r}')
                seen.add(value)

        user_classes = user_metainfo.get('classes')
        if user_classes is None:
            selected = list(range(len(categories)))
        else:
            if isinstance(user_classes, str):
                user_classes = [user_classes]
            name2index = {name: i for i, name in enumerate(names)}
            unknown = [c for c in user_classes if c not in name2index]
            if unknown:
                raise ValueError(f'{ann_file}: metainfo classes {unknown} are '
                                 'not categories of this file')
            if len(set(user_classes)) != len(user_classes):
                raise ValueError('metainfo classes contain duplicates: '
                                 f'{list(user_classes)}')
            selected = sorted(name2index[c] for c in user_classes)
            if [names[i] for i in selected] != list(user_classes):
                print_log(
                    f'{ann_file}: metainfo classes reordered to the order of '
                    'the annotation file (label i is classes[i])',
                    logger='current',
                    level=logging.WARNING)

        self.all_cat_ids: Tuple[Any, ...] = tuple(ids)
        self.cat_ids: List[Any] = [ids[i] for i in selected]
        self.cat2label: Dict[Any, int] = {
            cat_id: label
            for label, cat_id in enumerate(self.cat_ids)
        }
        chosen = [categories[i] for i in selected]
        metainfo = dict(
            classes=tuple(c['name'] for c in chosen),
            supercategories=tuple(c['supercategory'] for c in chosen),
            scenes=tuple(c['scene'] for c in chosen),
            texts=tuple(tuple(c['texts']) for c in chosen),
            palette=make_palette(len(chosen)),
            category_ids=tuple(self.cat_ids))
        for key, value in user_metainfo.items():
            if key != 'classes':
                metainfo[key] = value
        num_classes = len(chosen)
        for key in self.PER_CLASS_KEYS:
            if key in metainfo and len(metainfo[key]) != num_classes:
                raise ValueError(f"metainfo['{key}'] has "
                                 f'{len(metainfo[key])} entries but there '
                                 f'are {num_classes} classes')
        return metainfo

    # ------------------------------------------------------------------
    # compact data list
    # ------------------------------------------------------------------
    def full_init(self) -> None:
        """Load the annotations as compact arrays, then apply the batch
        shapes, ``filter_cfg`` and ``indices`` (in MMYOLO's order)."""
        if self._fully_initialized:
            return
        members = self._members
        self._members = None
        if members is None:
            members = self._read_ann_file()
        try:
            self._annotations = self._build_annotations(members)
        finally:
            close_members(members)
        del members
        self._log_box_counts()
        self._sample_images = np.arange(
            self._annotations.num_images, dtype=np.int64)
        self._sample_batch_shapes = None
        if self.batch_shapes_cfg:
            self._apply_batch_shapes()
        self._take(self.filter_data())
        if self._indices is not None:
            self._take(self._subset_positions(self._indices))
        self._fully_initialized = True

    def _log_box_counts(self) -> None:
        """One line when boxes were dropped or extend past their image."""
        counts = self._annotations.box_counts
        problems = {
            k: v
            for k, v in counts.items()
            if v and k in ('outside_image', 'non_positive_area',
                           'under_one_pixel', 'kept_partly_outside')
        }
        if problems:
            print_log(
                f'{self.ann_file}: {counts["input"]} boxes, '
                f'{counts["kept"]} kept; ' +
                ', '.join(f'{k.replace("_", " ")}: {v}'
                          for k, v in problems.items()) +
                ' (dropped and kept as mmdet.CocoDataset does; the resize '
                'and affine transforms clip the boxes to the image)',
                logger='current',
                level=logging.WARNING)

    def _build_annotations(self, members: dict) -> AnnotationArrays:
        """The compact arrays of the selected classes."""
        ann_file = self.ann_file
        images = members.get('images')
        if not isinstance(images, (list, JsonArraySpan)):
            raise ValueError(f"{ann_file}: 'images' must be a list")
        boxes = members.get('annotations', [])
        if not isinstance(boxes, (list, JsonArraySpan)):
            raise ValueError(f"{ann_file}: 'annotations' must be a list")
        labels = [self.cat2label.get(c, -1) for c in self.all_cat_ids]
        try:
            return build_compact_annotations(images, boxes, self.all_cat_ids,
                                             labels, ann_file)
        except JsonSyntaxError as err:
            raise ValueError(f'MMIOC annotation file {ann_file} is not valid '
                             f'JSON: {err}') from None

    def _apply_batch_shapes(self) -> None:
        """Run ``batch_shapes_cfg``'s policy (MMYOLO's ``BatchShapePolicy``)
        on light ``width``/``height`` dicts; keep its order and the
        ``batch_shape`` it gives every image."""
        policy = TASK_UTILS.build(self.batch_shapes_cfg)
        ann = self._annotations
        infos = [
            dict(width=w, height=h, image_index=i) for i, (w, h) in enumerate(
                zip(ann.widths.tolist(), ann.heights.tolist()))
        ]
        infos = policy(infos)
        self._sample_images = np.array([i['image_index'] for i in infos],
                                       dtype=np.int64).reshape(-1)
        self._sample_batch_shapes = np.array([i['batch_shape'] for i in infos],
                                             dtype=np.int64).reshape(-1, 2)

    def _take(self, positions: np.ndarray) -> None:
        """Keep the samples at ``positions`` (in that order)."""
        self._sample_images = self._sample_images[positions]
        if self._sample_batch_shapes is not None:
            self._sample_batch_shapes = self._sample_batch_shapes[positions]

    def _subset_positions(self, indices: Union[int,
                                               Sequence[int]]) -> np.ndarray:
        """The sample positions that ``indices`` selects (the semantics of
        ``BaseDataset.get_subset``: an int takes the first or last samples,
        a sequence the listed ones)."""
        num = len(self._sample_images)
        if isinstance(indices, int):
            everything = np.arange(num, dtype=np.int64)
            return everything[:indices] if indices >= 0 \
                else everything[indices:]
        if isinstance(indices, Sequence):
            positions = np.array(list(indices), dtype=np.int64).reshape(-1)
            bad = (positions < -num) | (positions >= num)
            if bad.any():
                raise IndexError(f'{type(self).__name__}: index '
                                 f'{int(positions[bad][0])} out of range for '
                                 f'{num} samples')
            return positions % max(num, 1)
        raise TypeError('indices should be a int or sequence of int, but got '
                        f'{type(indices)}')

    def filter_data(self) -> np.ndarray:
        """Filter the samples according to ``filter_cfg``.

        ``filter_empty_gt=True`` drops images without a valid box of the
        selected classes; ``min_size`` drops images whose shorter side is
        smaller. Nothing is filtered in test mode.

        Returns:
            np.ndarray: ``(S,)`` int64 positions of the kept samples (unlike
            ``BaseDataset.filter_data``, which returns data infos).
        """
        images = self._sample_images
        if self.test_mode or self.filter_cfg is None:
            return np.arange(len(images), dtype=np.int64)
        ann = self._annotations
        keep = np.minimum(ann.widths[images],
                          ann.heights[images]) >= self.filter_cfg.get(
                              'min_size', 0)
        if self.filter_cfg.get('filter_empty_gt', False):
            keep &= ann.num_instances()[images] > 0
        return np.flatnonzero(keep)

    def _image_info(self, image: int) -> dict:
        """The data info of image ``image`` (file order)."""
        ann = self._annotations
        data_info = dict(
            img_path=osp.join(self.data_prefix['img'], ann.file_name(image)),
            img_id=int(ann.image_ids[image]),
            seg_map_path=None,
            height=ann.heights[image].item(),
            width=ann.widths[image].item())
        scene = int(ann.image_scene[image])
        if scene >= 0:
            data_info['scene'] = ann.image_scenes[scene]
        if self.return_classes:
            data_info['text'] = self._metainfo['classes']
            data_info['caption_prompt'] = self.caption_prompt
            data_info['custom_entities'] = True
        start, end = ann.inst_offsets[image:image + 2].tolist()
        data_info['instances'] = [
            dict(bbox=bbox, bbox_label=label, ignore_flag=flag)
            for bbox, label, flag in
            zip(ann.bboxes[start:end].tolist(),
                ann.ann_label[start:end].tolist(),
                ann.ignore_flags[start:end].tolist())
        ]
        return data_info

    def _data_info(self, idx: int) -> dict:
        """The data info of sample ``idx``, without ``sample_idx``."""
        num = len(self._sample_images)
        if not -num <= idx < num:
            raise IndexError(f'{type(self).__name__}: index {idx} out of '
                             f'range for {num} samples')
        data_info = self._image_info(int(self._sample_images[idx]))
        if self._sample_batch_shapes is not None:
            data_info['batch_shape'] = self._sample_batch_shapes[idx].copy()
        return data_info

    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        """Build the data info of sample ``idx`` from the arrays.

        Args:
            idx (int): Sample index (negative counts from the end).

        Returns:
            dict: ``img_path``, ``img_id``, ``seg_map_path`` (None),
            ``height``, ``width``, ``scene`` (when the image record has one),
            ``instances`` (each with ``bbox`` as ``[x1, y1, x2, y2]``,
            ``bbox_label`` and ``ignore_flag``), ``batch_shape`` (with
            ``batch_shapes_cfg``) and ``sample_idx``; a fresh dict that the
            pipeline may modify.
        """
        data_info = self._data_info(idx)
        data_info['sample_idx'] = idx if idx >= 0 else len(self) + idx
        return data_info

    @force_full_init
    def get_cat_ids(self, idx: int) -> List[int]:
        """The labels of the instances of sample ``idx``.

        Args:
            idx (int): Sample index.

        Returns:
            list[int]: One label per instance (crowd ones included).
        """
        image = int(self._sample_images[idx])
        start, end = self._annotations.inst_offsets[image:image + 2].tolist()
        return self._annotations.ann_label[start:end].tolist()

    @force_full_init
    def __len__(self) -> int:
        return len(self._sample_images)

    @property
    def data_list(self) -> Sequence[dict]:
        """Sequence[dict]: A read-only view building the data infos (without
        ``sample_idx``) on access; empty before the full initialisation."""
        if getattr(self, '_annotations', None) is None:
            return []
        return _DataInfoView(self)

    @data_list.setter
    def data_list(self, value: Sequence[dict]) -> None:
        # ``BaseDataset.__init__`` sets an empty placeholder
        if len(value):
            raise AttributeError(f'{type(self).__name__}.data_list is a '
                                 'read-only view of its compact arrays')

    def load_data_list(self) -> List[dict]:
        """Every image's data info, in file order, before filtering.

        Only for compatibility: :meth:`full_init` does not call it, and the
        list costs about 1 kB per image (GBs at MMIOC-1M scale).

        Returns:
            list[dict]: One dict per image (see :meth:`get_data_info`).
        """
        self.full_init()
        return [
            self._image_info(i) for i in range(self._annotations.num_images)
        ]

    @force_full_init
    def get_subset_(self, indices: Union[int, Sequence[int]]) -> None:
        """Keep the samples ``indices`` selects (in place).

        Args:
            indices (int | Sequence[int]): The first (``n >= 0``) or last
                (``n < 0``) samples, or the listed ones.
        """
        self._take(self._subset_positions(indices))

    @force_full_init
    def get_subset(self, indices: Union[int, Sequence[int]]) -> 'MMIOCDataset':
        """A copy with the samples ``indices`` selects; the annotation
        arrays are shared, not copied.

        Args:
            indices (int | Sequence[int]): See :meth:`get_subset_`.

        Returns:
            MMIOCDataset: The subset.
        """
        subset = self._copy_without_annotation(
            {id(self._annotations): self._annotations})
        subset.get_subset_(indices)
        return subset


class _DataInfoView(SequenceABC):
    """``MMIOCDataset.data_list``: data infos built on access."""

    def __init__(self, dataset: MMIOCDataset) -> None:
        self._dataset = dataset

    def __len__(self) -> int:
        return len(self._dataset._sample_images)

    def __getitem__(self, idx: Union[int, slice]) -> Any:
        if isinstance(idx, slice):
            return [
                self._dataset._data_info(i)
                for i in range(*idx.indices(len(self)))
            ]
        return self._dataset._data_info(idx)

    def __iter__(self) -> Iterator[dict]:
        for i in range(len(self)):
            yield self._dataset._data_info(i)


def make_palette(num_classes: int) -> List[Tuple[int, int, int]]:
    """Deterministic, well-spread RGB colours (golden-ratio hue steps).

    Args:
        num_classes (int): Number of colours.

    Returns:
        list[tuple[int, int, int]]: ``num_classes`` colours in ``0..255``.
    """
    palette = []
    for i in range(num_classes):
        hue = (i * 0.618033988749895) % 1.0
        value = 0.95 if i % 2 == 0 else 0.7
        r, g, b = colorsys.hsv_to_rgb(hue, 0.8, value)
        palette.append((int(r * 255), int(g * 255), int(b * 255)))
    return palette
