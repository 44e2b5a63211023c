# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Fast reading and writing of MMIOC annotation files, and compact arrays.

MMIOC-1M annotation files hold a million images and several million boxes.
They are parsed with ``orjson`` (several times faster than the standard
``json`` module, which is the fallback) and turned once into the numpy arrays
of :class:`AnnotationArrays` (the format's one annotation-array type), on
which the split, statistics and validation code works without per-record
Python loops.

Nothing here imports torch, mmengine or mmdet (only numpy and orjson).
"""
import gc
import json
import os.path as osp
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

# the atomic JSON writer of the format, under this module's name too
from .file_io import write_json as dump_json  # noqa: F401

try:
    import orjson
except ImportError:  # pragma: no cover - depends on the environment
    orjson = None

#: Top-level keys every MMIOC annotation file has.
REQUIRED_KEYS = ('images', 'annotations', 'categories')


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector inside the block.

    Creating millions of dicts and lists (parsing MMIOC-1M, building its
    records) triggers many full collections that find nothing to free; with
    the collector paused, parsing 1M images / 3M boxes is about 3x faster.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_json(path: str, what: str = 'JSON file') -> Any:
    """Read a JSON file (with ``orjson`` when installed).

    Args:
        path (str): Path of the file.
        what (str): What the file is, for error messages.

    Returns:
        Any: The parsed value.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        ValueError: The file is not valid JSON (the message names the file).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    with open(path, 'rb') as f:
        content = f.read()
    try:
        with gc_paused():
            if orjson is not None:
                return orjson.loads(content)
            return json.loads(content)
    except ValueError as err:  # orjson.JSONDecodeError is a ValueError
        first_line = str(err).splitlines()[0] if str(err) else repr(err)
        raise ValueError(f'{what} {path} is not valid JSON: {first_line}')


def load_mmioc(path: str) -> dict:
    """Read an MMIOC annotation file and check its top-level structure.

    Args:
        path (str): The annotation JSON.

    Returns:
        dict: The parsed file.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: Not valid JSON, not an object, or one of ``images``,
            ``annotations``, ``categories`` is missing or not a list.
    """
    data = load_json(path, 'annotation file')
    check_structure(data, path)
    return data


def check_structure(data: Any, source: str) -> None:
    """Raise unless ``data`` is a dict with the three COCO lists.

    Args:
        data (Any): A parsed annotation file.
        source (str): Where it comes from, for the message.

    Raises:
        ValueError: One line naming ``source`` and the problem.
    """
    if not isinstance(data, dict):
        raise ValueError(f'{source}: expected a JSON object with '
                         f'{list(REQUIRED_KEYS)}, got {type(data).__name__}')
    for key in REQUIRED_KEYS:
        if not isinstance(data.get(key), list):
            got = type(data[key]).__name__ if key in data else 'nothing'
            raise ValueError(
                f'{source}: "{key}" must be a list, got {got}')


def _field_values(records: Sequence[dict], key: str) -> list:
    """``record.get(key)`` of every record; ``None`` for non-dict records."""
    try:
        return list(map(itemgetter(key), records))
    except (KeyError, TypeError, IndexError):
        return [r.get(key) if isinstance(r, dict) else None for r in records]


def int_field(records: Sequence[dict], key: str) -> Tuple[np.ndarray, list]:
    """The integer field ``key`` of every record as an int64 array.

    Python ``int`` values only: a missing key, ``None``, a float, a bool or a
    string is reported, not converted.

    Args:
        records (Sequence[dict]): ``N`` records (dicts).
        key (str): The field.

    Returns:
        tuple[np.ndarray, list[int]]: ``(N,)`` int64 values (``-1`` where
        bad) and the indices of the bad records, ascending.
    """
    values = _field_values(records, key)
    if set(map(type, values)) <= {int}:
        try:
            return np.array(values, dtype=np.int64).reshape(-1), []
        except OverflowError:
            pass
    bad = [i for i, v in enumerate(values) if type(v) is not int]
    for i in bad:
        values[i] = -1
    array = np.empty(len(values), dtype=np.int64)
    for i, value in enumerate(values):
        try:
            array[i] = value
        except OverflowError:
            array[i] = -1
            bad.append(i)
    return array, sorted(set(bad))


def float_field(records: Sequence[dict],
                key: str,
                width: int = 0) -> Tuple[np.ndarray, list]:
    """The numeric field ``key`` of every record as a float64 array.

    Args:
        records (Sequence[dict]): ``N`` records (dicts).
        key (str): The field.
        width (int): ``0`` for a scalar field (result ``(N,)``), else the
            length of a list field (result ``(N, width)``, e.g. 4 for
            ``bbox``).

    Returns:
        tuple[np.ndarray, list[int]]: The values (``nan`` where bad) and the
        indices of the records whose field is missing, of the wrong length,
        not numeric (bools and strings count as not numeric) or not finite.
    """
    values = _field_values(records, key)
    shape = (len(values), width) if width else (len(values), )
    array = None
    if width:
        item_types = set(map(type, chain.from_iterable(values)))
        fast = (set(map(type, values)) <= {list}
                and set(map(len, values)) <= {width}
                and item_types <= {int, float})
    else:
        fast = set(map(type, values)) <= {int, float}
    if fast:
        try:
            array = np.array(values, dtype=np.float64).reshape(shape)
        except OverflowError:
            array = None
    if array is not None:
        finite = np.isfinite(array)
        if width:
            finite = finite.all(axis=1)
        bad = np.flatnonzero(~finite).tolist()
        if bad:
            array[bad] = np.nan
        return array, bad
    # slow path: find the malformed records, convert the others at once
    numeric = (int, float)
    if width:
        good = [
            i for i, v in enumerate(values)
            if type(v) is list and len(v) == width and all(
                type(x) in numeric for x in v)
        ]
    else:
        good = [i for i, v in enumerate(values) if type(v) in numeric]
    array = np.full(shape, np.nan, dtype=np.float64)
    if good:
        try:
            array[good] = np.array([values[i] for i in good],
                                   dtype=np.float64).reshape(
                                       (len(good), ) + shape[1:])
        except OverflowError:
            for i in good:
                try:
                    array[i] = values[i]
                except OverflowError:
                    array[i] = np.nan
    finite = np.isfinite(array)
    if width:
        finite = finite.all(axis=1)
    return array, np.flatnonzero(~finite).tolist()


def index_of(sorted_ids: np.ndarray, order: np.ndarray,
             query: np.ndarray) -> np.ndarray:
    """Position of each queried id in the original (unsorted) id array.

    Args:
        sorted_ids (np.ndarray): ``(N,)`` ids sorted ascending.
        order (np.ndarray): ``(N,)`` the argsort that sorted them.
        query (np.ndarray): ``(M,)`` ids to look up.

    Returns:
        np.ndarray: ``(M,)`` int64 positions, ``-1`` for unknown ids.
    """
    if len(sorted_ids) == 0:
        return np.full(len(query), -1, dtype=np.int64)
    pos = np.searchsorted(sorted_ids, query)
    pos_clipped = np.minimum(pos, len(sorted_ids) - 1)
    found = sorted_ids[pos_clipped] == query
    return np.where(found, order[pos_clipped], -1).astype(np.int64)


def encode_strings(values: Sequence[Optional[str]]) -> Tuple[np.ndarray,
                                                             List[str]]:
    """Integer codes of strings, in order of first appearance.

    Args:
        values (Sequence[str | None]): ``N`` strings; ``None`` (and any
            non-string) gets code ``-1``.

    Returns:
        tuple[np.ndarray, list[str]]: ``(N,)`` int64 codes and the distinct
        strings (code ``i`` is ``names[i]``).
    """
    lookup: Dict[str, int] = {}
    codes = [
        lookup.setdefault(v, len(lookup)) if isinstance(v, str) else -1
        for v in values
    ]
    return np.array(codes, dtype=np.int64).reshape(-1), list(lookup)


@dataclass
class AnnotationArrays:
    """The images, annotations and categories of an MMIOC file as arrays.

    The one array type of the format, made by two readers:

    - :meth:`from_dict` (the builders: split, statistics): every annotation
      of a parsed file, in file order, with COCO ``xywh`` float64 boxes and
      the category table; inconsistent data is refused (run
      ``tools/dataset_converters/validate_mmioc.py`` for a full report).
    - :func:`~mmioc_rtvp.format.compact_annotations.build_compact_annotations`
      (the datasets): read in chunks, only the valid boxes of the selected
      classes, grouped by image (``inst_offsets``), as ``xyxy`` float32
      boxes, with the file names and ``box_counts``; nothing per category.

    ``N`` images in file order, ``R`` annotations, ``K`` categories. A field
    a reader does not fill is ``None``.

    Attributes:
        image_ids (np.ndarray): ``(N,)`` int64 image ids.
        widths (np.ndarray): ``(N,)`` image widths (float64 from
            :meth:`from_dict`; int32 from the chunked reader when the file
            has integers).
        heights (np.ndarray): ``(N,)`` image heights (same dtype).
        image_scene (np.ndarray): ``(N,)`` index into ``image_scenes`` of
            the image's ``scene`` field, ``-1`` without one.
        image_scenes (Sequence): The distinct ``scene`` values, in order of
            first appearance.
        ann_ids (np.ndarray, optional): ``(R,)`` int64 annotation ids.
        ann_image (np.ndarray, optional): ``(R,)`` int64 index of the image
            of each annotation (into the image arrays).
        ann_label (np.ndarray): ``(R,)`` label of each annotation: the index
            of its category (:meth:`from_dict`) or its selected-class label.
        bboxes (np.ndarray): ``(R, 4)`` boxes in ``box_format``.
        areas (np.ndarray, optional): ``(R,)`` float64 ``area`` fields;
            ``w * h`` of the box where the field is missing.
        category_ids (np.ndarray, optional): ``(K,)`` int64 category ids.
        names (list[str], optional): ``K`` category names.
        supercategories (list[str], optional): ``K`` supercategories (``''``
            if none).
        scenes (list[str], optional): ``K`` category scenes (``''`` if
            none).
        texts (list[list[str]], optional): ``K`` prompt lists (``[name]`` if
            none).
        box_format (str): ``'xywh'`` (COCO ``[x, y, w, h]``) or ``'xyxy'``
            (``[x1, y1, x2, y2]``).
        name_bytes (np.ndarray, optional): ``(B,)`` uint8, the UTF-8 file
            names, each followed by a NUL byte.
        name_offsets (np.ndarray, optional): ``(N + 1,)`` int64; the name of
            image ``i`` is ``name_bytes[name_offsets[i]:name_offsets[i + 1]
            - 1]``.
        inst_offsets (np.ndarray, optional): ``(N + 1,)`` int64, set when the
            annotations are grouped by image: those of image ``i`` are
            ``inst_offsets[i]:inst_offsets[i + 1]``.
        ignore_flags (np.ndarray, optional): ``(R,)`` uint8, 1 for
            ``iscrowd`` boxes.
        box_counts (dict): Where every annotation of the file went (chunked
            reader): ``input`` = ``kept`` + ``other_classes`` +
            ``ignore_field`` + ``outside_image`` + ``non_positive_area`` +
            ``under_one_pixel`` (each box counted under its first reason in
            that order), and ``kept_partly_outside``: kept boxes that extend
            past their image (kept as mmdet's ``CocoDataset`` keeps them; the
            training transforms clip them).
    """
    # the order of the first fields is that of the former DatasetArrays
    image_ids: np.ndarray
    widths: np.ndarray
    heights: np.ndarray
    image_scene: np.ndarray
    image_scenes: Sequence
    ann_ids: Optional[np.ndarray] = None
    ann_image: Optional[np.ndarray] = None
    ann_label: Optional[np.ndarray] = None
    bboxes: Optional[np.ndarray] = None
    areas: Optional[np.ndarray] = None
    category_ids: Optional[np.ndarray] = None
    names: Optional[List[str]] = None
    supercategories: Optional[List[str]] = None
    scenes: Optional[List[str]] = None
    texts: Optional[List[List[str]]] = None
    box_format: str = 'xywh'
    name_bytes: Optional[np.ndarray] = None
    name_offsets: Optional[np.ndarray] = None
    inst_offsets: Optional[np.ndarray] = None
    ignore_flags: Optional[np.ndarray] = None
    box_counts: Dict[str, int] = field(default_factory=dict)

    @property
    def num_images(self) -> int:
        """int: ``N``."""
        return len(self.image_ids)

    @property
    def num_annotations(self) -> int:
        """int: ``R``."""
        return len(self.bboxes)

    @property
    def num_categories(self) -> int:
        """int: ``K`` (the category table must have been read)."""
        return len(self._need('category_ids'))

    @property
    def nbytes(self) -> int:
        """int: Bytes held by the arrays."""
        return sum(
            getattr(self, name).nbytes for name in self.__dataclass_fields__
            if isinstance(getattr(self, name), np.ndarray))

    def file_name(self, index: int) -> str:
        """The ``file_name`` of image ``index`` (names must have been read)."""
        start, end = self._need('name_offsets')[index:index + 2].tolist()
        return self.name_bytes[start:end - 1].tobytes().decode('utf-8')

    def num_instances(self) -> np.ndarray:
        """``(N,)`` int64 number of annotations per image."""
        if self.inst_offsets is not None:
            return np.diff(self.inst_offsets)
        return np.bincount(
            self._need('ann_image'),
            minlength=self.num_images).astype(np.int64)

    def _need(self, name: str) -> Any:
        value = getattr(self, name)
        if value is None:
            raise ValueError(f'these annotation arrays have no {name}: the '
                             'reader that made them does not fill it')
        return value

    # the attribute names of the former CompactAnnotations
    @property
    def img_ids(self) -> np.ndarray:
        """np.ndarray: ``image_ids``."""
        return self.image_ids

    @property
    def scene_codes(self) -> np.ndarray:
        """np.ndarray: ``image_scene``."""
        return self.image_scene

    @property
    def scene_values(self) -> Sequence:
        """Sequence: ``image_scenes``."""
        return self.image_scenes

    @property
    def labels(self) -> np.ndarray:
        """np.ndarray: ``ann_label``."""
        return self.ann_label

    @classmethod
    def from_dict(cls, data: dict,
                  source: str = '<dict>') -> 'AnnotationArrays':
        """Build the arrays from a parsed MMIOC annotation file.

        Args:
            data (dict): The parsed file.
            source (str): Where it comes from, for error messages.

        Returns:
            AnnotationArrays: File-order arrays with ``xywh`` boxes and the
            category table.

        Raises:
            ValueError: A malformed or inconsistent record (the message names
                ``source``, the record and the reason): a non-integer or
                duplicated id, an unknown image or category id, a ``bbox``
                that is not 4 finite numbers, a missing category name, or a
                non-positive image size.
        """
        with gc_paused():
            return cls._from_dict(data, source)

    @classmethod
    def _from_dict(cls, data: dict, source: str) -> 'AnnotationArrays':
        check_structure(data, source)
        images, anns, cats = (data['images'], data['annotations'],
                              data['categories'])
        hint = ' (run tools/dataset_converters/validate_mmioc.py for a report)'

        def fail(what: str, records: list, index: int, reason: str) -> None:
            record = records[index]
            rid = record.get('id') if isinstance(record, dict) else None
            raise ValueError(f'{source}: {what} #{index} (id {rid!r}) '
                             f'{reason}{hint}')

        category_ids, bad = int_field(cats, 'id')
        if bad:
            fail('category', cats, bad[0], 'has no integer "id"')
        names = [c.get('name') for c in cats]
        for i, name in enumerate(names):
            if not isinstance(name, str) or not name:
                fail('category', cats, i, 'has no "name"')
        cat_sorted, cat_order = _sorted_unique(category_ids, 'category',
                                               source)

        image_ids, bad = int_field(images, 'id')
        if bad:
            fail('image', images, bad[0], 'has no integer "id"')
        img_sorted, img_order = _sorted_unique(image_ids, 'image', source)
        widths, bad_w = float_field(images, 'width')
        heights, bad_h = float_field(images, 'height')
        bad = sorted(
            set(bad_w) | set(bad_h)
            | set(np.flatnonzero(~((widths > 0) & (heights > 0))).tolist()))
        if bad:
            fail('image', images, bad[0],
                 'has no positive numeric "width" and "height"')
        image_scene, image_scenes = encode_strings(
            [im.get('scene') for im in images])

        ann_ids, bad = int_field(anns, 'id')
        if bad:
            fail('annotation', anns, bad[0], 'has no integer "id"')
        _sorted_unique(ann_ids, 'annotation', source)
        ann_image_ids, bad = int_field(anns, 'image_id')
        if bad:
            fail('annotation', anns, bad[0], 'has no integer "image_id"')
        ann_cat_ids, bad = int_field(anns, 'category_id')
        if bad:
            fail('annotation', anns, bad[0], 'has no integer "category_id"')
        ann_image = index_of(img_sorted, img_order, ann_image_ids)
        unknown = np.flatnonzero(ann_image < 0)
        if len(unknown):
            fail('annotation', anns, int(unknown[0]),
                 f'refers to unknown image_id {ann_image_ids[unknown[0]]}')
        ann_label = index_of(cat_sorted, cat_order, ann_cat_ids)
        unknown = np.flatnonzero(ann_label < 0)
        if len(unknown):
            fail('annotation', anns, int(unknown[0]),
                 f'refers to unknown category_id {ann_cat_ids[unknown[0]]}')
        bboxes, bad = float_field(anns, 'bbox', width=4)
        if bad:
            fail('annotation', anns, bad[0],
                 'has no "bbox" of 4 finite numbers')
        bboxes = bboxes.reshape(-1, 4)
        areas, missing = float_field(anns, 'area')
        if missing:
            areas[missing] = bboxes[missing, 2] * bboxes[missing, 3]

        def text(cat: dict, key: str) -> str:
            value = cat.get(key)
            return value if isinstance(value, str) else ''

        texts = []
        for cat, name in zip(cats, names):
            prompts = cat.get('texts')
            if isinstance(prompts, list) and prompts and all(
                    isinstance(p, str) for p in prompts):
                texts.append(list(prompts))
            else:
                texts.append([name])
        return cls(
            image_ids=image_ids,
            widths=widths,
            heights=heights,
            image_scene=image_scene,
            image_scenes=image_scenes,
            ann_ids=ann_ids,
            ann_image=ann_image,
            ann_label=ann_label,
            bboxes=bboxes,
            areas=areas,
            category_ids=category_ids,
            names=names,
            supercategories=[text(c, 'supercategory') for c in cats],
            scenes=[text(c, 'scene') for c in cats],
            texts=texts)


#: The former name of :class:`AnnotationArrays` (the same class).
DatasetArrays = AnnotationArrays


def _sorted_unique(ids: np.ndarray, what: str,
                   source: str) -> Tuple[np.ndarray, np.ndarray]:
    """Sort ids; raise on a duplicate. Returns the sorted ids and argsort."""
    order = np.argsort(ids, kind='stable')
    sorted_ids = ids[order]
    dup = np.flatnonzero(sorted_ids[1:] == sorted_ids[:-1])
    if len(dup):
        raise ValueError(f'{source}: duplicated {what} id '
                         f'{int(sorted_ids[dup[0]])}')
    return sorted_ids, order


def subset(data: dict,
           image_index: np.ndarray,
           ann_index: np.ndarray,
           category_index: np.ndarray,
           split: str,
           extra_info: Optional[dict] = None) -> dict:
    """A new annotation dict with some of the records of ``data``.

    The records are shared with ``data`` (not copied), in file order.

    Args:
        data (dict): The source annotation dict.
        image_index (np.ndarray): Indices of the images to keep.
        ann_index (np.ndarray): Indices of the annotations to keep.
        category_index (np.ndarray): Indices of the categories to keep.
        split (str): Written to ``info['split']``.
        extra_info (dict, optional): More ``info`` entries.

    Returns:
        dict: ``info``, ``images``, ``annotations``, ``categories`` (plus
        any other top-level key of ``data``, such as ``licenses``).
    """
    info = dict(data.get('info') or {})
    info['split'] = split
    info.update(extra_info or {})
    out = {k: v for k, v in data.items() if k not in REQUIRED_KEYS}
    out['info'] = info
    images, anns, cats = (data['images'], data['annotations'],
                          data['categories'])
    with gc_paused():
        out['images'] = [images[i] for i in np.sort(image_index).tolist()]
        out['annotations'] = [anns[i] for i in np.sort(ann_index).tolist()]
        out['categories'] = [
            cats[i] for i in np.sort(category_index).tolist()
        ]
    return out


def class_texts(categories: Sequence[dict]) -> List[List[str]]:
    """The YOLO-World class-text list of some categories, in their order.

    Args:
        categories (Sequence[dict]): MMIOC categories.

    Returns:
        list[list[str]]: One list of prompts per category: its ``texts``, or
        ``[name]`` when it has none.
    """
    out = []
    for cat in categories:
        texts = cat.get('texts')
        out.append(list(texts) if texts else [cat['name']])
    return out
