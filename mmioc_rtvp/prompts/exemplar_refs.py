# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Reference lists: which box on which image shows which class.

A reference list is a ``.json`` file (a list of ``{"class": ...,
"image": ..., "box": [x1, y1, x2, y2]}``) or a ``.csv`` file with the
header ``class,image,x1,y1,x2,y2``. Boxes are in the image's original
pixels; relative image paths are relative to the list's folder. A record
that cannot be used is refused with one line naming the list and the
record; the others are kept.
"""
import csv
import json
import math
import os.path as osp
from dataclasses import dataclass
from typing import Any, List, Sequence, Tuple

#: The CSV header of a reference list.
CSV_COLUMNS = ('class', 'image', 'x1', 'y1', 'x2', 'y2')
#: A box may stick out of its image by this many pixels (rounding of
#: drawing tools); it is clipped. Farther out is refused.
BOX_TOLERANCE = 1.0


@dataclass(frozen=True)
class ExemplarRef:
    """One exemplar box.

    Attributes:
        class_name (str): The class it shows.
        image (str): The reference image.
        box (tuple[float, float, float, float]): xyxy, original pixels.
        where (str): ``'refs.csv record 3'``, for messages.
    """
    class_name: str
    image: str
    box: Tuple[float, float, float, float]
    where: str


def check_box(box: Sequence[float], width: int,
              height: int) -> Tuple[float, float, float, float]:
    """A box inside a ``width`` x ``height`` image, clipped.

    Args:
        box (Sequence[float]): xyxy.
        width (int): Image width.
        height (int): Image height.

    Returns:
        tuple: The box clipped to the image.

    Raises:
        ValueError: Zero area, not xyxy, or outside the image by more than
            :data:`BOX_TOLERANCE` pixels.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    text = f'[{x1:g}, {y1:g}, {x2:g}, {y2:g}]'
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        raise ValueError(f'box {text} is not finite')
    if x2 <= x1 or y2 <= y1:
        raise ValueError(f'box {text} has zero area (or is not x1 < x2, '
                         'y1 < y2)')
    tol = BOX_TOLERANCE
    if x1 < -tol or y1 < -tol or x2 > width + tol or y2 > height + tol:
        raise ValueError(f'box {text} lies outside the {width}x{height} '
                         'image')
    clip = (min(max(x1, 0.0), width), min(max(y1, 0.0), height),
            min(max(x2, 0.0), width), min(max(y2, 0.0), height))
    if clip[2] <= clip[0] or clip[3] <= clip[1]:
        raise ValueError(f'box {text} lies outside the {width}x{height} '
                         'image')
    return clip


def _parse_record(raw: Any, where: str, folder: str) -> ExemplarRef:
    """One record of a list; ValueError with the reason."""
    if not isinstance(raw, dict):
        raise ValueError(f'expected an object, got {type(raw).__name__}')
    name, image, box = raw.get('class'), raw.get('image'), raw.get('box')
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f'"class" must be a non-empty string, got {name!r}')
    if not isinstance(image, str) or not image.strip():
        raise ValueError(f'"image" must be a path, got {image!r}')
    if not isinstance(box, (list, tuple)) or len(box) != 4:
        raise ValueError(f'"box" must be [x1, y1, x2, y2], got {box!r}')
    try:
        box = tuple(float(v) for v in box)
    except (TypeError, ValueError):
        raise ValueError(f'"box" must hold 4 numbers, got {box!r}') from None
    image = image.strip()
    if not osp.isabs(image):
        image = osp.normpath(osp.join(folder, image))
    return ExemplarRef(name.strip(), image, box, where)


def _raw_records(path: str) -> List[Any]:
    """The records of a list file, as dicts (CSV rows converted)."""
    suffix = osp.splitext(path)[1].lower()
    with open(path, encoding='utf-8-sig', newline='') as f:
        if suffix == '.json':
            try:
                data = json.load(f)
            except ValueError as err:
                raise ValueError(f'{path}: not valid JSON ({err})') from None
            if not isinstance(data, list):
                raise ValueError(f'{path}: expected a list of {{"class", '
                                 '"image", "box"}} records')
            return data
        if suffix == '.csv':
            reader = csv.DictReader(f)
            if tuple(c.strip() for c in reader.fieldnames or ()) != \
                    CSV_COLUMNS:
                raise ValueError(f'{path}: the header must be '
                                 f'{",".join(CSV_COLUMNS)}, got '
                                 f'{reader.fieldnames}')
            return [
                dict(
                    {k.strip(): v for k, v in row.items() if k},
                    box=[row.get(c) for c in CSV_COLUMNS[2:]])
                for row in reader
            ]
    raise ValueError(f'{path}: a reference list is a .json or .csv file')


def read_exemplar_refs(path: str
                       ) -> Tuple[List[ExemplarRef], List[str]]:
    """Read a reference list.

    Args:
        path (str): The ``.json`` or ``.csv`` list.

    Returns:
        tuple: ``(refs, refused)``: the usable records and one line per
        refused record (``'refs.csv record 3: box ... has zero area'``);
        ``len(refs) + len(refused)`` is the number of records.

    Raises:
        FileNotFoundError: No such file.
        ValueError: The file itself is unreadable (not JSON, bad header).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'reference list {path} does not exist')
    folder = osp.dirname(osp.abspath(path))
    refs, refused = [], []
    for i, raw in enumerate(_raw_records(path)):
        where = f'{path} record {i}'
        try:
            refs.append(_parse_record(raw, where, folder))
        except ValueError as err:
            refused.append(f'{where}: {err}')
    return refs, refused
