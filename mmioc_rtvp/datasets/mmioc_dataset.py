# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import colorsys
import logging
import os.path as osp
from collections import defaultdict
from typing import Any, Dict, List, Optional, Tuple

from mmengine.logging import print_log
from mmyolo.datasets import YOLOv5CocoDataset

from mmioc_rtvp.registry import DATASETS
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

    The annotation file is parsed once with plain dictionaries (``orjson``
    when installed), not with ``pycocotools``, so that MMIOC-1M loads in
    reasonable time; ``serialize_data=True`` (the default) shares one
    compact copy of the data list between data-loader workers.

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
        # The base classes only set attributes and join paths when
        # ``lazy_init`` is True; the metainfo is then completed from the
        # annotation file before the data list is loaded.
        super().__init__(
            *args, data_prefix=data_prefix, lazy_init=True, **kwargs)
        self._check_paths()
        annotations = self._read_ann_file()
        self._metainfo = self._metainfo_from_categories(
            annotations.get('categories'), self._metainfo)
        # keep the parsed file for the imminent full_init only
        self._raw_annotations: Optional[dict] = None
        if not lazy_init:
            self._raw_annotations = annotations
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
        """Parse the annotation file into a dict."""
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
    # data list
    # ------------------------------------------------------------------
    def load_data_list(self) -> List[dict]:
        """Load the data list from :attr:`ann_file`.

        Returns:
            list[dict]: One dict per image with ``img_path``, ``img_id``,
            ``seg_map_path``, ``height``, ``width``, ``instances`` (each with
            ``bbox`` as ``[x1, y1, x2, y2]``, ``bbox_label`` and
            ``ignore_flag``) and ``scene`` when the image record has one.
        """
        annotations = self._raw_annotations
        self._raw_annotations = None
        if annotations is None:
            annotations = self._read_ann_file()
        ann_file = self.ann_file
        images = annotations.get('images')
        if not isinstance(images, list):
            raise ValueError(f"{ann_file}: 'images' must be a list")
        boxes = annotations.get('annotations', [])
        if not isinstance(boxes, list):
            raise ValueError(f"{ann_file}: 'annotations' must be a list")

        known_cat_ids = set(self.all_cat_ids)
        anns_by_image: Dict[Any, List[dict]] = defaultdict(list)
        ann_ids = set()
        for i, ann in enumerate(boxes):
            if not isinstance(ann, dict):
                raise ValueError(f'{ann_file}: annotations[{i}] is not a JSON '
                                 'object')
            ann_id = ann.get('id', f'#{i} (no id)')
            for key in ('image_id', 'category_id', 'bbox'):
                if key not in ann:
                    raise ValueError(f'{ann_file}: annotation id {ann_id} '
                                     f"has no '{key}'")
            if 'id' in ann:
                if ann_id in ann_ids:
                    raise ValueError(f'{ann_file}: duplicate annotation id '
                                     f'{ann_id}')
                ann_ids.add(ann_id)
            if ann['category_id'] not in known_cat_ids:
                raise ValueError(f'{ann_file}: annotation id {ann_id} has '
                                 f"category_id {ann['category_id']}, which "
                                 "is not in 'categories'")
            bbox = ann['bbox']
            if not isinstance(bbox, list) or len(bbox) != 4:
                raise ValueError(f'{ann_file}: annotation id {ann_id}: bbox '
                                 f'must be [x, y, w, h], got {bbox!r}')
            anns_by_image[ann['image_id']].append(ann)
        del ann_ids

        data_list = []
        img_ids = set()
        for i, img in enumerate(images):
            if not isinstance(img, dict):
                raise ValueError(f'{ann_file}: images[{i}] is not a JSON '
                                 'object')
            img_id = img.get('id', f'#{i} (no id)')
            for key in ('id', 'file_name', 'width', 'height'):
                if key not in img:
                    raise ValueError(f'{ann_file}: image id {img_id} has no '
                                     f"'{key}'")
            if img_id in img_ids:
                raise ValueError(f'{ann_file}: duplicate image id {img_id}')
            img_ids.add(img_id)
            data_list.append(
                self.parse_data_info(
                    dict(
                        raw_img_info=img,
                        raw_ann_info=anns_by_image.get(img_id, []))))
        orphans = anns_by_image.keys() - img_ids
        if orphans:
            image_id = next(iter(orphans))
            raise ValueError(f'{ann_file}: annotation id '
                             f"{anns_by_image[image_id][0].get('id')} refers "
                             f'to image id {image_id}, which is not in '
                             "'images'")
        return data_list

    def parse_data_info(self, raw_data_info: dict) -> dict:
        """Turn one image record and its annotations into a data info.

        Args:
            raw_data_info (dict): ``raw_img_info`` (the image record) and
                ``raw_ann_info`` (its annotation records).

        Returns:
            dict: The data info (see :meth:`load_data_list`).
        """
        img = raw_data_info['raw_img_info']
        width, height = img['width'], img['height']
        data_info = dict(
            img_path=osp.join(self.data_prefix['img'], img['file_name']),
            img_id=img['id'],
            seg_map_path=None,
            height=height,
            width=width)
        if 'scene' in img:
            data_info['scene'] = img['scene']
        if self.return_classes:
            data_info['text'] = self._metainfo['classes']
            data_info['caption_prompt'] = self.caption_prompt
            data_info['custom_entities'] = True

        instances = []
        for ann in raw_data_info['raw_ann_info']:
            label = self.cat2label.get(ann['category_id'])
            if label is None or ann.get('ignore', False):
                continue
            x1, y1, w, h = ann['bbox']
            inter_w = max(0, min(x1 + w, width) - max(x1, 0))
            inter_h = max(0, min(y1 + h, height) - max(y1, 0))
            area = ann.get('area', w * h)
            if inter_w * inter_h == 0 or area <= 0 or w < 1 or h < 1:
                continue
            instances.append(
                dict(
                    bbox=[x1, y1, x1 + w, y1 + h],
                    bbox_label=label,
                    ignore_flag=1 if ann.get('iscrowd', False) else 0))
        data_info['instances'] = instances
        return data_info

    def filter_data(self) -> List[dict]:
        """Filter the data list according to ``filter_cfg``.

        ``filter_empty_gt=True`` drops images without a valid box of the
        selected classes; ``min_size`` drops images whose shorter side is
        smaller. Nothing is filtered in test mode.

        Returns:
            list[dict]: The kept data infos.
        """
        if self.test_mode or self.filter_cfg is None:
            return self.data_list
        filter_empty_gt = self.filter_cfg.get('filter_empty_gt', False)
        min_size = self.filter_cfg.get('min_size', 0)
        return [
            info for info in self.data_list
            if (info['instances'] or not filter_empty_gt)
            and min(info['width'], info['height']) >= min_size
        ]


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
