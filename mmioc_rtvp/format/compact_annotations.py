# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Compact, array-based annotations of an MMIOC file, read in chunks.

MMIOC-1M annotation files hold a million images and several million boxes.
Parsed at once into Python dicts they take several GB, and a list of
per-image data infos (what ``mmdet.CocoDataset`` keeps) takes as much again.
This module never holds more than a chunk of records as Python objects:

1. :func:`scan_json_object` finds, with vectorised numpy over the raw bytes
   (a read-only memory map of the file), the top-level members of the JSON
   object and, for the big arrays (``images``, ``annotations``), the byte
   span of every element. Only brackets outside strings are looked at, so
   the scan costs a few passes of numpy comparisons per byte.
2. :meth:`JsonArraySpan.iter_chunks` parses the elements with ``orjson``,
   a few thousand at a time, with the cyclic garbage collector paused.
3. :func:`build_compact_annotations` turns the records into the numpy arrays
   of an :class:`~mmioc_rtvp.format.io.AnnotationArrays`: image ids, file
   names (one UTF-8 byte blob plus offsets), sizes, scenes, and the valid
   boxes of the selected classes grouped per image (``(R, 4)`` float32
   ``xyxy`` boxes, labels, ignore flags and per-image offsets).

The arrays are plain numpy arrays (no Python object per record), so
data-loader workers forked from the main process read the same physical
pages: reading an element never writes to the page holding it (unlike a list
of dicts, whose reference counts are written on every access), so the pages
stay shared copy-on-write.
"""
from itertools import repeat
from operator import itemgetter
from typing import Any, Dict, Hashable, List, Optional, Sequence

import numpy as np

from .io import AnnotationArrays, gc_paused, index_of
# the chunked JSON reading, re-exported (public names of this module)
from .json_scan import (BLOCK_SIZE, CHUNK_RECORDS, Buffer,  # noqa: F401
                        JsonArraySpan, JsonSyntaxError, close_buffer,
                        close_members, iter_record_chunks, open_buffer,
                        scan_json_object)

_MISSING = object()


#: The former name of :class:`~mmioc_rtvp.format.io.AnnotationArrays` (the
#: same class); its attributes ``img_ids``, ``scene_codes``,
#: ``scene_values`` and ``labels`` are read-only aliases there.
CompactAnnotations = AnnotationArrays


# ----------------------------------------------------------------------
# records -> arrays
# ----------------------------------------------------------------------
def _record_name(records: list, index: int, first: int) -> str:
    """``id X`` of a record, or ``#i (no id)``."""
    record = records[index]
    rid = record.get('id', _MISSING) if isinstance(record, dict) else _MISSING
    if rid is _MISSING:
        return f'id #{first + index} (no id)'
    return f'id {rid}'


def _check_dicts(records: list, what: str, first: int, source: str) -> None:
    if set(map(type, records)) - {dict}:
        index = next(i for i, r in enumerate(records)
                     if not isinstance(r, dict))
        raise ValueError(f'{source}: {what}[{first + index}] is not a JSON '
                         'object')


def _required(records: list, keys: Sequence[str], what: str, first: int,
              source: str) -> List[list]:
    """The values of required keys, with a clear error for a missing one."""
    out = []
    for key in keys:
        try:
            out.append(list(map(itemgetter(key), records)))
        except KeyError:
            index = next(i for i, r in enumerate(records) if key not in r)
            raise ValueError(f'{source}: {what} '
                             f'{_record_name(records, index, first)} has no '
                             f"'{key}'")
    return out


def _optional(records: list, key: str, default: Any = None) -> list:
    return list(map(dict.get, records, repeat(key), repeat(default)))


def _int_array(values: list) -> Optional[np.ndarray]:
    """int64 array of Python ints, None if some value is not an int."""
    if set(map(type, values)) - {int}:
        return None
    try:
        return np.array(values, dtype=np.int64).reshape(-1)
    except OverflowError:
        return None


def _number_array(values: list) -> Optional[np.ndarray]:
    """int64/float64 array of JSON numbers, None if some value is not."""
    if set(map(type, values)) - {int, float}:
        return None
    try:
        return np.array(values).reshape(-1)
    except OverflowError:
        return None


def _truthy(values: list) -> np.ndarray:
    """bool array of the truthiness of ``values`` (None is false)."""
    if values.count(None) == len(values):
        return np.zeros(len(values), dtype=bool)
    if set(map(type, values)) <= {int, bool, float, type(None)}:
        return np.array(values, dtype=bool).reshape(-1)
    return np.array([bool(v) for v in values], dtype=bool).reshape(-1)


class _ImageColumns:
    """Accumulates the image records, chunk by chunk."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.ids: List[np.ndarray] = []
        self.names: List[bytes] = []
        self.widths: List[np.ndarray] = []
        self.heights: List[np.ndarray] = []
        self.scenes: List[np.ndarray] = []
        self.scene_lookup: Dict[Hashable, int] = {_MISSING: -1}

    def add(self, first: int, records: list) -> None:
        source = self.source
        _check_dicts(records, 'images', first, source)
        ids, names, widths, heights = _required(
            records, ('id', 'file_name', 'width', 'height'), 'image', first,
            source)
        id_array = _int_array(ids)
        if id_array is None:
            bad = next(
                v for v in ids
                if type(v) is not int or not -2**63 <= v < 2**63)
            raise ValueError(f'{source}: image id {bad!r} is not an integer')
        if set(map(type, names)) - {str}:
            index = next(i for i, v in enumerate(names) if type(v) is not str)
            raise ValueError(f'{source}: image id {ids[index]}: file_name '
                             'must be a string')
        joined = '\0'.join(names)
        if joined.count('\0') != len(names) - 1:
            index = next(i for i, v in enumerate(names) if '\0' in v)
            raise ValueError(f'{source}: image id {ids[index]}: file_name '
                             'contains a NUL character')
        self.names.append(joined.encode('utf-8') + b'\0')
        for key, values, out in (('width', widths, self.widths),
                                 ('height', heights, self.heights)):
            array = _number_array(values)
            if array is None:
                index = next(i for i, v in enumerate(values)
                             if type(v) not in (int, float))
                raise ValueError(f'{source}: image id {ids[index]}: {key} '
                                 f'must be a number, got {values[index]!r}')
            out.append(array)
        lookup = self.scene_lookup
        scenes = _optional(records, 'scene', _MISSING)
        try:
            for value in dict.fromkeys(scenes):  # first-appearance order
                lookup.setdefault(value, len(lookup) - 1)
            codes = list(map(lookup.__getitem__, scenes))
        except TypeError:
            index = next(i for i, v in enumerate(scenes)
                         if not isinstance(v, Hashable))
            raise ValueError(f'{source}: image id {ids[index]}: scene must '
                             f'be a string, got {scenes[index]!r}')
        self.ids.append(id_array)
        self.scenes.append(np.array(codes, dtype=np.int32).reshape(-1))


class _AnnotationColumns:
    """Accumulates the annotation records, chunk by chunk."""

    def __init__(self, num: int, category_ids: Sequence[Hashable],
                 source: str) -> None:
        self.source = source
        self.category_ids = list(category_ids)
        self.cat_position = {c: i for i, c in enumerate(self.category_ids)}
        int_ids = _int_array(self.category_ids)
        if int_ids is not None:
            self.cat_order = np.argsort(int_ids, kind='stable')
            self.cat_sorted = int_ids[self.cat_order]
        else:
            self.cat_order = self.cat_sorted = None
        self.image_ids = np.empty(num, dtype=np.int64)
        self.categories = np.empty(num, dtype=np.int32)
        self.boxes = np.empty((num, 4), dtype=np.float64)
        self.areas = np.empty(num, dtype=np.float64)
        self.crowd = np.empty(num, dtype=bool)
        self.ignore = np.empty(num, dtype=bool)
        # ids of the annotations, for the duplicate check and messages
        self.ids = np.zeros(num, dtype=np.int64)
        self.has_int_id = np.zeros(num, dtype=bool)
        self.other_ids: Dict[Hashable, int] = {}
        self.names: Dict[int, str] = {}
        self.count = 0

    def name(self, index: int) -> str:
        """``id X`` of annotation ``index`` (file order)."""
        if self.has_int_id[index]:
            return f'id {int(self.ids[index])}'
        return self.names.get(index, f'id #{index} (no id)')

    def add(self, first: int, records: list) -> None:
        source = self.source
        num = len(records)
        window = slice(first, first + num)
        _check_dicts(records, 'annotations', first, source)
        image_ids, category_ids, bboxes = _required(
            records, ('image_id', 'category_id', 'bbox'), 'annotation', first,
            source)
        ids = _optional(records, 'id', _MISSING)
        int_ids = _int_array(ids)
        if int_ids is not None:
            self.ids[window] = int_ids
            self.has_int_id[window] = True
        else:
            for i, value in enumerate(ids):
                if type(value) is int and -2**63 <= value < 2**63:
                    self.ids[first + i] = value
                    self.has_int_id[first + i] = True
                elif value is not _MISSING:
                    try:
                        previous = self.other_ids.setdefault(value, first + i)
                    except TypeError:
                        raise ValueError(f'{source}: annotation id {value!r} '
                                         'is not a JSON number or string')
                    if previous != first + i:
                        raise ValueError(f'{source}: duplicate annotation id '
                                         f'{value}')
                    self.names[first + i] = f'id {value}'

        array = _int_array(image_ids)
        if array is None:  # such ids match no image: report it as unknown
            bad = next(i for i, v in enumerate(image_ids)
                       if type(v) is not int or not -2**63 <= v < 2**63)
            raise ValueError(f'{source}: annotation '
                             f'{_record_name(records, bad, first)} refers '
                             f'to image id {image_ids[bad]}, which is not '
                             "in 'images'")
        self.image_ids[window] = array

        position = None
        if self.cat_sorted is not None:
            query = _int_array(category_ids)
            if query is not None:
                position = index_of(self.cat_sorted, self.cat_order, query)
        if position is None:
            lookup = self.cat_position
            position = np.array([
                lookup.get(c, -1) if isinstance(c, Hashable) else -1
                for c in category_ids
            ],
                                dtype=np.int64).reshape(-1)
        unknown = np.flatnonzero(position < 0)
        if len(unknown):
            bad = int(unknown[0])
            raise ValueError(f'{source}: annotation '
                             f'{_record_name(records, bad, first)} has '
                             f'category_id {category_ids[bad]}, which is '
                             "not in 'categories'")
        self.categories[window] = position

        boxes = None
        try:
            boxes = np.array(bboxes)
        except (ValueError, TypeError, OverflowError):
            pass
        if (boxes is None or boxes.ndim != 2 or boxes.shape != (num, 4)
                or boxes.dtype.kind not in 'iuf'):
            bad = next((i for i, b in enumerate(bboxes)
                        if type(b) is not list or len(b) != 4 or any(
                            type(v) not in (int, float) for v in b)), 0)
            raise ValueError(f'{source}: annotation '
                             f'{_record_name(records, bad, first)}: bbox '
                             f'must be [x, y, w, h], got {bboxes[bad]!r}')
        self.boxes[window] = boxes
        areas = _optional(records, 'area')
        try:
            area = np.array(areas, dtype=np.float64).reshape(-1)
        except (ValueError, TypeError):
            bad = next(i for i, v in enumerate(areas)
                       if type(v) not in (int, float, type(None)))
            raise ValueError(f'{source}: annotation '
                             f'{_record_name(records, bad, first)}: area '
                             f'must be a number, got {areas[bad]!r}')
        missing = np.isnan(area)
        if missing.any():  # no area: w * h, as the reference parser
            area[missing] = (self.boxes[window, 2] *
                             self.boxes[window, 3])[missing]
        self.areas[window] = area
        self.crowd[window] = _truthy(_optional(records, 'iscrowd'))
        self.ignore[window] = _truthy(_optional(records, 'ignore'))
        self.count = first + num

    def check_unique_ids(self) -> None:
        ids = self.ids[self.has_int_id]
        sorted_ids = np.sort(ids)
        dup = np.flatnonzero(sorted_ids[1:] == sorted_ids[:-1])
        if len(dup):
            raise ValueError(f'{self.source}: duplicate annotation id '
                             f'{int(sorted_ids[dup[0]])}')


def build_compact_annotations(
        images: Any,
        annotations: Any,
        category_ids: Sequence[Hashable],
        category_labels: Sequence[int],
        source: str,
        chunk_size: int = CHUNK_RECORDS) -> AnnotationArrays:
    """Turn the image and annotation records into compact arrays.

    A box is kept when its category is selected (``category_labels >= 0``),
    it has no true ``ignore`` field, it overlaps the image, its ``area`` (or
    ``w * h`` without one) is positive and both sides are at least one
    pixel; ``iscrowd`` boxes get ``ignore_flag=1``. The arithmetic is done in
    float64, so the kept boxes and their ``x1 + w``, ``y1 + h`` are those of
    Python arithmetic on the JSON numbers, then stored as float32 (what
    ``LoadAnnotations`` makes of them anyway).

    Args:
        images (JsonArraySpan | list): The ``images`` member.
        annotations (JsonArraySpan | list): The ``annotations`` member.
        category_ids (Sequence): The ``K`` category ids, in file order.
        category_labels (Sequence[int]): ``(K,)`` label of each category,
            ``-1`` for a category that is not selected.
        source (str): The file, for error messages.
        chunk_size (int): Records parsed at a time.

    Returns:
        AnnotationArrays: The kept boxes grouped by image (``inst_offsets``),
        ``xyxy`` float32, with the file names, ``ignore_flags`` and
        ``box_counts``; no category table, ids or areas.

    Raises:
        ValueError: A malformed record (the message names ``source``, the
            record and the reason): not an object, a missing key, a
            non-integer or duplicated image id, a duplicated annotation id, a
            ``bbox`` that is not 4 numbers, an unknown category or image id.
    """
    with gc_paused():
        image_columns = _ImageColumns(source)
        for first, records in iter_record_chunks(images, chunk_size):
            image_columns.add(first, records)
            del records
        ann_columns = _AnnotationColumns(
            len(annotations), category_ids, source)
        for first, records in iter_record_chunks(annotations, chunk_size):
            ann_columns.add(first, records)
            del records
    return _assemble(image_columns, ann_columns,
                     np.asarray(category_labels, dtype=np.int64), source)


def _concat(parts: List[np.ndarray], dtype: Any) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def _compact_sizes(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind in 'iu' and (not len(values) or
                                      (values.min() >= -2**31
                                       and values.max() < 2**31)):
        return values.astype(np.int32)
    return values.astype(np.float64)


def _assemble(images: _ImageColumns, anns: _AnnotationColumns,
              category_labels: np.ndarray, source: str) -> AnnotationArrays:
    """Join the annotations to their images and keep the valid boxes."""
    img_ids = _concat(images.ids, np.int64)
    order = np.argsort(img_ids, kind='stable')
    sorted_ids = img_ids[order]
    dup = np.flatnonzero(sorted_ids[1:] == sorted_ids[:-1])
    if len(dup):
        raise ValueError(f'{source}: duplicate image id '
                         f'{int(sorted_ids[dup[0]])}')
    anns.check_unique_ids()

    ann_image = index_of(sorted_ids, order, anns.image_ids)
    orphans = np.flatnonzero(ann_image < 0)
    if len(orphans):
        bad = int(orphans[0])
        raise ValueError(f'{source}: annotation {anns.name(bad)} refers to '
                         f'image id {int(anns.image_ids[bad])}, which is not '
                         "in 'images'")
    widths = _concat(images.widths, np.int64)
    heights = _concat(images.heights, np.int64)

    labels = category_labels[anns.categories]
    x1, y1, w, h = anns.boxes.T
    img_w = widths[ann_image].astype(np.float64)
    img_h = heights[ann_image].astype(np.float64)
    inter_w = np.maximum(0, np.minimum(x1 + w, img_w) - np.maximum(x1, 0))
    inter_h = np.maximum(0, np.minimum(y1 + h, img_h) - np.maximum(y1, 0))
    keep = ((labels >= 0) & ~anns.ignore & (inter_w * inter_h != 0)
            & (anns.areas > 0) & (w >= 1) & (h >= 1))
    box_counts = _box_counts(labels >= 0, ~anns.ignore,
                             inter_w * inter_h != 0, anns.areas > 0,
                             (w >= 1) & (h >= 1))
    box_counts['kept_partly_outside'] = int(
        np.count_nonzero(keep & ((x1 < 0) | (y1 < 0) | (x1 + w > img_w)
                                 | (y1 + h > img_h))))
    del inter_w, inter_h, img_w, img_h
    kept = np.flatnonzero(keep)
    kept = kept[np.argsort(ann_image[kept], kind='stable')]
    boxes = anns.boxes[kept]
    boxes[:, 2:] += boxes[:, :2]
    counts = np.bincount(ann_image[kept], minlength=len(img_ids))
    inst_offsets = np.zeros(len(img_ids) + 1, dtype=np.int64)
    np.cumsum(counts, out=inst_offsets[1:])

    names = np.frombuffer(b''.join(images.names), dtype=np.uint8)
    name_offsets = np.zeros(len(img_ids) + 1, dtype=np.int64)
    name_offsets[1:] = np.flatnonzero(names == 0) + 1
    scene_values = tuple(v for v in images.scene_lookup if v is not _MISSING)
    return AnnotationArrays(
        image_ids=img_ids,
        widths=_compact_sizes(widths),
        heights=_compact_sizes(heights),
        image_scene=_concat(images.scenes, np.int32),
        image_scenes=scene_values,
        ann_label=labels[kept].astype(np.int32),
        bboxes=boxes.astype(np.float32),
        box_format='xyxy',
        name_bytes=names,
        name_offsets=name_offsets,
        inst_offsets=inst_offsets,
        ignore_flags=anns.crowd[kept].astype(np.uint8),
        box_counts=box_counts)


def _box_counts(*conditions: np.ndarray) -> Dict[str, int]:
    """Count the boxes that pass every condition, and those dropped by
    the first condition they fail (the order of ``_DROP_REASONS``)."""
    counts = dict(input=int(len(conditions[0])) if conditions else 0)
    passing = np.ones(counts['input'], dtype=bool)
    for reason, ok in zip(_DROP_REASONS, conditions):
        counts[reason] = int(np.count_nonzero(passing & ~ok))
        passing &= ok
    counts['kept'] = int(np.count_nonzero(passing))
    return counts


#: why a box is not kept, in the order they are checked
_DROP_REASONS = ('other_classes', 'ignore_field', 'outside_image',
                 'non_positive_area', 'under_one_pixel')
