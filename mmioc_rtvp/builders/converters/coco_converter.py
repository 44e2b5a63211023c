# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""COCO json -> MMIOC.

The source class of an annotation is the ``name`` of its category. Boxes
are ``bbox = [x, y, w, h]`` in pixels; ``iscrowd`` is kept; segmentations
are ignored. ``width``/``height`` of image records are only compared with
the real image size. Images without annotations are defect-free images.
Output ``file_name`` is the record's ``file_name``.

Ids: a repeated annotation id rejects the later annotations; an image id
shared by several image records, or a category id shared by categories with
different names, is ambiguous: those images and every annotation that refers
to the id are rejected (``duplicate_id``). Two image records with the same
``file_name`` keep the first.
"""
import os.path as osp
from collections import Counter
from typing import Any, Dict, List, Optional

from .base_converter import BaseConverter, SourceBox, SourceImage, parse_finite
from mmioc_rtvp.format.file_io import read_json


def _valid_id(value: Any) -> bool:
    return (isinstance(value, (int, str)) and not isinstance(value, bool)
            and value != '')


class COCOConverter(BaseConverter):
    """Convert a COCO json dataset (see the module docstring).

    Args:
        ann_file (str): The COCO json file.
        img_dir (str): Directory the ``file_name`` entries are relative to.
        **kwargs: :class:`BaseConverter` arguments.

    Raises:
        FileNotFoundError: ``ann_file`` or ``img_dir`` does not exist.
    """

    source_format = 'coco'

    def __init__(self, ann_file: str, img_dir: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not osp.isfile(ann_file):
            raise FileNotFoundError(f'COCO annotation file not found: '
                                    f'{ann_file}')
        if not osp.isdir(img_dir):
            raise FileNotFoundError(f'image directory not found: {img_dir}')
        self.ann_file = ann_file
        self.img_dir = img_dir
        self.root = img_dir
        self.ann_name = osp.basename(ann_file)

    def source_info(self) -> Dict[str, Any]:
        return dict(
            ann_file=osp.abspath(self.ann_file),
            img_dir=osp.abspath(self.img_dir))

    def _check_out_dir(self) -> None:
        super()._check_out_dir()
        self.root = osp.dirname(osp.abspath(self.ann_file))
        super()._check_out_dir()
        self.root = self.img_dir

    def _malformed_file(self, detail: str) -> List[SourceImage]:
        with open(self.ann_file, 'rb') as f:
            estimate = f.read().count(b'"bbox"')
        self.orphan_boxes(
            self.ann_name,
            'whole file',
            'malformed_annotation_file',
            detail,
            boxes=estimate,
            estimated=True)
        return []

    def scan(self) -> List[SourceImage]:
        try:
            data = read_json(self.ann_file, 'COCO annotation file')
        except ValueError as err:
            return self._malformed_file(str(err))
        if not isinstance(data, dict):
            return self._malformed_file('top level is not an object')
        problems = [
            f"'{key}' is not a list" for key in ('images', 'annotations')
            if not isinstance(data.get(key), list)
        ]
        if not isinstance(data.get('categories', []), list):
            problems.append("'categories' is not a list")
        if problems:
            return self._malformed_file('; '.join(problems))
        ann_file = self.ann_name

        # categories: id -> name (None: ambiguous id)
        cat_names: Dict[Any, Optional[str]] = {}
        for k, cat in enumerate(data.get('categories', [])):
            if not isinstance(cat, dict) or not _valid_id(cat.get('id')) \
                    or not isinstance(cat.get('name'), str):
                self.report.notes.append(
                    f'{ann_file}: categories[{k}] has no valid id and name; '
                    'annotations referring to it are unknown_class')
                continue
            cid, name = cat['id'], cat['name'].strip()
            if cid in cat_names and cat_names[cid] != name:
                cat_names[cid] = None
            else:
                cat_names[cid] = name

        # images
        id_counts = Counter(
            rec.get('id') for rec in data['images']
            if isinstance(rec, dict) and _valid_id(rec.get('id')))
        by_id: Dict[Any, SourceImage] = {}
        # image id -> why its annotations are rejected as duplicate_id
        ambiguous_ids: Dict[Any, str] = {}
        by_file: Dict[str, SourceImage] = {}
        result: List[SourceImage] = []
        for k, rec in enumerate(data['images']):
            where = f'images[{k}]'
            if (not isinstance(rec, dict) or not _valid_id(rec.get('id'))
                    or not isinstance(rec.get('file_name'), str)
                    or not rec['file_name'].strip()):
                self.orphan_image(
                    where,
                    'malformed_record',
                    'image record needs an id and a file_name',
                    file=ann_file)
                continue
            file_name = osp.normpath(rec['file_name'].strip().replace(
                '\\', '/')).replace(osp.sep, '/')
            size = (rec.get('width'), rec.get('height'))
            size = size if all(
                isinstance(v, int) and not isinstance(v, bool) and v > 0
                for v in size) else None
            image = SourceImage(
                rel_path=file_name,
                abs_path=osp.join(self.img_dir, *file_name.split('/')),
                file_name=file_name,
                annotation_file=ann_file,
                annotated_size=size)
            if id_counts[rec['id']] > 1:
                image.error = ('duplicate_id',
                               f"image id {rec['id']!r} is used by "
                               f"{id_counts[rec['id']]} image records")
                ambiguous_ids[rec['id']] = image.error[1]
            elif file_name in by_file:
                image.error = ('duplicate_id',
                               f"{where} (id {rec['id']!r}) repeats the "
                               'file_name of an earlier image record')
                ambiguous_ids[rec['id']] = image.error[1]
            else:
                by_id[rec['id']] = image
                by_file[file_name] = image
            result.append(image)

        # annotations
        seen_ids = set()
        for k, ann in enumerate(data['annotations']):
            ann_id = ann.get('id') if isinstance(ann, dict) else None
            record = f'annotations[{k}]' + (f' id={ann_id}'
                                            if ann_id is not None else '')
            if not isinstance(ann, dict):
                self.orphan_boxes(ann_file, record, 'malformed_record',
                                  'annotation is not an object')
                continue
            image_id = ann.get('image_id')
            if not _valid_id(image_id):
                self.orphan_boxes(ann_file, record, 'malformed_record',
                                  f'invalid image_id {image_id!r}')
                continue
            image = by_id.get(image_id)
            if image is None:
                if image_id in ambiguous_ids:
                    self.orphan_boxes(ann_file, record, 'duplicate_id',
                                      ambiguous_ids[image_id])
                else:
                    self.orphan_boxes(
                        ann_file, record, 'unknown_image_id',
                        f"image id {image_id!r} is not in 'images'")
                continue
            box = SourceBox(ann_file, record)
            image.boxes.append(box)
            if _valid_id(ann_id):
                if ann_id in seen_ids:
                    box.error = ('duplicate_id',
                                 f'annotation id {ann_id!r} repeats an '
                                 'earlier one')
                    continue
                seen_ids.add(ann_id)
            elif ann_id is not None:
                box.error = ('malformed_record', f'invalid id {ann_id!r}')
                continue
            bbox = ann.get('bbox')
            if (not isinstance(bbox, (list, tuple)) or len(bbox) != 4
                    or any(isinstance(v, bool) for v in bbox)):
                box.error = ('malformed_record',
                             f'bbox must be [x, y, w, h], got {bbox!r}')
                continue
            numbers, error = parse_finite(bbox)
            if error is not None:
                box.error = error
                continue
            cid = ann.get('category_id')
            if not _valid_id(cid):
                box.error = ('malformed_record',
                             f'invalid category_id {cid!r}')
                continue
            if cid in cat_names and cat_names[cid] is None:
                box.error = ('duplicate_id',
                             f'category id {cid!r} is used by categories '
                             'with different names')
                continue
            if cid not in cat_names:
                box.error = ('unknown_class', f'category id {cid!r} is not '
                             "in 'categories'")
                continue
            iscrowd = ann.get('iscrowd', 0)
            if iscrowd not in (0, 1) or isinstance(iscrowd, bool):
                box.error = ('malformed_record',
                             f'iscrowd must be 0 or 1, got {iscrowd!r}')
                continue
            box.label = cat_names[cid]
            box.coords = tuple(numbers)
            box.fmt = 'xywh'
            box.iscrowd = iscrowd
        return result
