# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Validation of an MMIOC annotation file and of its images.

Every problem found is one :class:`Problem` record: the reason (a key of
:data:`REASONS`), its severity, the file it concerns (the annotation file,
an image file or a class-text file), and the image / annotation / category
id involved. Errors make a dataset unusable or its evaluation wrong;
warnings are suspicious but legal. The checks run on numpy arrays built once
from the records (see :mod:`mmioc_rtvp.format.io`), so the annotation part
of MMIOC-1M takes seconds; the image files are checked by a thread pool.

Image checks (``images=``):

- ``'none'``: the annotation file only;
- ``'header'`` (default): the file exists and its header (read by Pillow
  without decoding the pixels) gives the recorded ``width`` / ``height``;
- ``'decode'``: the pixels are decoded too (catches truncated files;
  several times slower).

Boxes: ``[x, y, w, h]`` must have ``w > 0``, ``h > 0`` and lie inside the
image, ``x >= 0``, ``y >= 0``, ``x + w <= width``, ``y + h <= height``, up
to ``box_tolerance`` pixels.
"""
import os
import os.path as osp
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from mmioc_rtvp.format.io import (REQUIRED_KEYS, dump_json, encode_strings,
                                  float_field, gc_paused, index_of,
                                  int_field, load_json)

ERROR = 'error'
WARNING = 'warning'

#: Every reason: (severity, description).
REASONS: Dict[str, Tuple[str, str]] = {
    'bad_structure': (ERROR, 'not an MMIOC annotation file (unreadable, not '
                      'JSON, or no images/annotations/categories lists)'),
    'no_categories': (ERROR, 'the file has no category'),
    'bad_image_record': (ERROR, 'image record without an integer id, a '
                         'file_name or a positive width and height'),
    'duplicate_image_id': (ERROR, 'image id used by several images'),
    'duplicate_file_name': (WARNING, 'file_name used by several images'),
    'missing_image_file': (ERROR, 'image file does not exist'),
    'unreadable_image': (ERROR, 'image file cannot be read or decoded'),
    'size_mismatch': (ERROR, 'image file size differs from the recorded '
                      'width/height'),
    'bad_annotation_record': (ERROR, 'annotation without an integer id, '
                              'image_id or category_id'),
    'duplicate_annotation_id': (ERROR, 'annotation id used several times'),
    'unknown_image_id': (ERROR, 'annotation refers to an unknown image id'),
    'unknown_category_id': (ERROR,
                            'annotation refers to an unknown category id'),
    'bad_bbox': (ERROR, 'bbox is not a list of 4 finite numbers'),
    'non_positive_box': (ERROR, 'box width or height is not positive'),
    'box_out_of_range': (ERROR, 'box extends outside the image'),
    'bad_area': (ERROR, 'area missing, not a number or not positive (COCO '
                 'evaluation needs it)'),
    'scene_mismatch': (WARNING, 'image scene differs from the scene of the '
                       'category of one of its boxes'),
    'bad_category_record': (ERROR, 'category without an integer id'),
    'duplicate_category_id': (ERROR, 'category id used several times'),
    'duplicate_category_name': (ERROR, 'category name used several times'),
    'missing_name': (ERROR, 'category without a name'),
    'missing_texts': (ERROR, 'category without a non-empty list of '
                      'non-empty prompt strings in "texts"'),
    'missing_supercategory': (ERROR, 'category without a supercategory'),
    'missing_scene': (ERROR, 'category without a scene'),
    'class_texts_mismatch': (ERROR, 'class-text file does not match the '
                             'categories (count or prompts)'),
}

IMAGE_CHECKS = ('none', 'header', 'decode')


@dataclass
class Problem:
    """One problem of a dataset.

    Args:
        reason (str): A key of :data:`REASONS`.
        file (str): The file concerned.
        image_id (int, optional): Id of the image concerned.
        ann_id (int, optional): Id of the annotation concerned.
        category_id (int, optional): Id of the category concerned.
        index (int, optional): Position of the record in its list.
        detail (str): Specifics (values found).
    """
    reason: str
    file: str
    image_id: Optional[int] = None
    ann_id: Optional[int] = None
    category_id: Optional[int] = None
    index: Optional[int] = None
    detail: str = ''

    @property
    def severity(self) -> str:
        """str: ``'error'`` or ``'warning'``."""
        return REASONS[self.reason][0]

    def format(self) -> str:
        """One line: severity, reason, file, ids and detail."""
        ids = [
            f'{k}={v}' for k, v in (('image_id', self.image_id),
                                    ('ann_id', self.ann_id),
                                    ('category_id', self.category_id),
                                    ('index', self.index)) if v is not None
        ]
        text = ' '.join([self.severity, self.reason, self.file, *ids])
        return f'{text}: {self.detail}' if self.detail else text


@dataclass
class ValidationReport:
    """The outcome of :func:`validate_mmioc`.

    Attributes:
        ann_file (str): The annotation file validated.
        num_images (int): Number of image records.
        num_annotations (int): Number of annotation records.
        num_categories (int): Number of category records.
        image_check (str): ``'none'``, ``'header'`` or ``'decode'``.
        images_checked (int): Image files looked at.
        counts (dict[str, int]): Number of problems per reason (exact, even
            when ``problems`` is capped).
        problems (list[Problem]): The problem records.
    """
    ann_file: str
    num_images: int = 0
    num_annotations: int = 0
    num_categories: int = 0
    image_check: str = 'header'
    images_checked: int = 0
    counts: Dict[str, int] = field(default_factory=dict)
    problems: List[Problem] = field(default_factory=list)
    max_records: Optional[int] = None

    def add(self, problem: Problem) -> None:
        """Count a problem and keep its record (unless capped)."""
        count = self.counts.get(problem.reason, 0)
        if self.max_records is None or count < self.max_records:
            self.problems.append(problem)
        self.counts[problem.reason] = count + 1

    @property
    def num_errors(self) -> int:
        """int: Number of problems of severity ``'error'``."""
        return sum(n for r, n in self.counts.items() if REASONS[r][0] == ERROR)

    @property
    def num_warnings(self) -> int:
        """int: Number of problems of severity ``'warning'``."""
        return sum(n for r, n in self.counts.items()
                   if REASONS[r][0] == WARNING)

    @property
    def ok(self) -> bool:
        """bool: No error (warnings allowed)."""
        return self.num_errors == 0

    def to_dict(self) -> dict:
        """JSON-able report: summary, counts and records."""
        return dict(
            ann_file=self.ann_file,
            ok=self.ok,
            num_errors=self.num_errors,
            num_warnings=self.num_warnings,
            num_images=self.num_images,
            num_annotations=self.num_annotations,
            num_categories=self.num_categories,
            image_check=self.image_check,
            images_checked=self.images_checked,
            counts=dict(sorted(self.counts.items())),
            problems=[
                dict(severity=p.severity, **asdict(p)) for p in self.problems
            ])

    def format(self, max_examples: int = 3) -> str:
        """A human-readable summary with a few examples per reason."""
        lines = [
            f'{self.ann_file}: {self.num_images} images, '
            f'{self.num_annotations} annotations, {self.num_categories} '
            f'categories; image files checked ({self.image_check}): '
            f'{self.images_checked}'
        ]
        for reason in sorted(self.counts):
            severity, description = REASONS[reason]
            lines.append(f'  {severity:<7} {reason:<24} '
                         f'{self.counts[reason]:>8}  ({description})')
            examples = [p for p in self.problems if p.reason == reason]
            for problem in examples[:max_examples]:
                lines.append(f'      {problem.format()}')
        verdict = 'OK' if self.ok else 'FAILED'
        lines.append(f'{verdict}: {self.num_errors} errors, '
                     f'{self.num_warnings} warnings')
        return '\n'.join(lines)

    def save(self, path: str) -> None:
        """Write the report: ``.json`` (:meth:`to_dict`) or ``.csv`` (one
        row per problem record)."""
        if path.lower().endswith('.csv'):
            import csv
            os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
            keys = ['severity', 'reason', 'file', 'image_id', 'ann_id',
                    'category_id', 'index', 'detail']
            with open(path, 'w', encoding='utf-8', newline='') as f:
                writer = csv.writer(f)
                writer.writerow(keys)
                for p in self.problems:
                    row = dict(severity=p.severity, **asdict(p))
                    writer.writerow(
                        ['' if row[k] is None else row[k] for k in keys])
        else:
            dump_json(self.to_dict(), path, indent=True)


def _duplicates(ids: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Indices of the records whose (valid) id appeared earlier."""
    idx = np.flatnonzero(valid)
    order = idx[np.argsort(ids[idx], kind='stable')]
    sorted_ids = ids[order]
    repeat = np.zeros(len(order), dtype=bool)
    repeat[1:] = sorted_ids[1:] == sorted_ids[:-1]
    return np.sort(order[repeat])


def _lookup(ids: np.ndarray, valid: np.ndarray,
            query: np.ndarray) -> np.ndarray:
    """Index of the first valid record with each queried id, ``-1`` if none.
    """
    idx = np.flatnonzero(valid)
    order = idx[np.argsort(ids[idx], kind='stable')]
    return index_of(ids[order], order, query)


def _id_or_none(record: Any, key: str = 'id') -> Optional[Any]:
    value = record.get(key) if isinstance(record, dict) else None
    return value if isinstance(value, (int, str)) else None


def check_categories(
        cats: list, file: str,
        report: ValidationReport) -> Tuple[np.ndarray, np.ndarray]:
    """Check the category records.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``(K,)`` int64 ids and ``(K,)`` bool,
        True where the record has an integer id.
    """
    ids, bad = int_field(cats, 'id')
    for i in bad:
        report.add(
            Problem('bad_category_record', file, index=i,
                    detail=f'id {_id_or_none(cats[i])!r}'))
    valid = np.ones(len(cats), dtype=bool)
    valid[bad] = False
    for i in _duplicates(ids, valid).tolist():
        report.add(
            Problem('duplicate_category_id', file, category_id=int(ids[i]),
                    index=i))
    first_of_name: Dict[str, int] = {}
    for i, cat in enumerate(cats):
        if not isinstance(cat, dict):
            continue
        cid = int(ids[i]) if valid[i] else None
        name = cat.get('name')
        if not isinstance(name, str) or not name.strip():
            report.add(Problem('missing_name', file, category_id=cid,
                               index=i))
        elif name in first_of_name:
            report.add(
                Problem('duplicate_category_name', file, category_id=cid,
                        index=i, detail=f'{name!r} (also category #'
                        f'{first_of_name[name]})'))
        else:
            first_of_name[name] = i
        texts = cat.get('texts')
        if not (isinstance(texts, list) and texts and all(
                isinstance(t, str) and t.strip() for t in texts)):
            report.add(Problem('missing_texts', file, category_id=cid,
                               index=i, detail=f'texts {texts!r:.80}'))
        for key in ('supercategory', 'scene'):
            value = cat.get(key)
            if not isinstance(value, str) or not value.strip():
                report.add(Problem(f'missing_{key}', file, category_id=cid,
                                   index=i))
    return ids, valid


def check_class_texts(cats: list, cat_ids: np.ndarray,
                      cat_id_ok: np.ndarray, path: str,
                      report: ValidationReport) -> None:
    """Compare a YOLO-World class-text file with the categories."""
    try:
        texts = load_json(path, 'class-text file')
    except (FileNotFoundError, ValueError) as err:
        report.add(Problem('class_texts_mismatch', path, detail=str(err)))
        return
    if not isinstance(texts, list) or len(texts) != len(cats):
        got = len(texts) if isinstance(texts, list) else type(texts).__name__
        report.add(
            Problem('class_texts_mismatch', path,
                    detail=f'{got} entries for {len(cats)} categories'))
        return
    for i, (entry, cat) in enumerate(zip(texts, cats)):
        expected = cat.get('texts') if isinstance(cat, dict) else None
        if not expected and isinstance(cat, dict):
            expected = [cat.get('name')]
        if entry != expected:
            report.add(
                Problem('class_texts_mismatch', path,
                        category_id=int(cat_ids[i]) if cat_id_ok[i]
                        else None, index=i,
                        detail=f'{entry!r:.60} != category texts '
                        f'{expected!r:.60}'))


def _read_image(path: str, decode: bool) -> Tuple[str, Any]:
    """``('ok', (w, h))``, ``('missing', None)`` or ``('unreadable', msg)``.
    """
    from PIL import Image
    try:
        if not osp.isfile(path):
            return 'missing', None
        with Image.open(path) as img:
            size = img.size
            if decode:
                img.load()
        return 'ok', size
    except Exception as err:  # any decoder error means unreadable
        message = str(err).splitlines()[0] if str(err) else repr(err)
        return 'unreadable', f'{type(err).__name__}: {message}'


def check_image_files(paths: Sequence[str],
                      decode: bool = False,
                      workers: int = 8,
                      progress: bool = False) -> List[Tuple[str, Any]]:
    """Check image files with a thread pool.

    Args:
        paths (Sequence[str]): Image paths.
        decode (bool): Decode the pixels, not only the header.
        workers (int): Threads (file I/O releases the GIL).
        progress (bool): Show a progress bar.

    Returns:
        list[tuple[str, Any]]: Per path, ``('ok', (width, height))``,
        ``('missing', None)`` or ``('unreadable', message)``.
    """
    from tqdm import tqdm
    bar = tqdm(
        total=len(paths),
        desc='decoding images' if decode else 'reading image headers',
        unit='img',
        disable=not progress)
    chunk = 256

    def run(start: int) -> List[Tuple[str, Any]]:
        out = [_read_image(p, decode) for p in paths[start:start + chunk]]
        bar.update(len(out))
        return out

    results: List[Tuple[str, Any]] = []
    starts = range(0, len(paths), chunk)
    if workers <= 1:
        for start in starts:
            results.extend(run(start))
    else:
        with ThreadPoolExecutor(workers) as pool:
            for part in pool.map(run, starts):
                results.extend(part)
    bar.close()
    return results


def validate_mmioc(ann_file: Any,
                   img_dir: Optional[str] = None,
                   images: str = 'header',
                   class_texts: Optional[str] = None,
                   box_tolerance: float = 0.0,
                   workers: int = 8,
                   max_records: Optional[int] = None,
                   progress: bool = False) -> ValidationReport:
    """Validate an MMIOC annotation file (and its images).

    Args:
        ann_file (str | dict): The annotation file, or its parsed dict.
        img_dir (str, optional): Directory that ``file_name`` is relative
            to. ``None``: ``<data root>/images`` with the data root the
            parent of the annotation file's directory (``data/mmioc`` for
            ``data/mmioc/annotations/x.json``); required with a dict unless
            ``images='none'``.
        images (str): ``'none'``, ``'header'`` or ``'decode'`` (see the
            module docstring). Defaults to ``'header'``.
        class_texts (str, optional): A class-text JSON that must match the
            categories (one prompt list per category, equal to its
            ``texts``).
        box_tolerance (float): Pixels a box may exceed the image by.
        workers (int): Threads for the image checks.
        max_records (int, optional): Keep at most this many records per
            reason (counts stay exact). ``None``: keep all.
        progress (bool): Show progress bars.

    Returns:
        ValidationReport: Every problem found.
    """
    if images not in IMAGE_CHECKS:
        raise ValueError(f'images must be one of {IMAGE_CHECKS}, got '
                         f'{images!r}')
    with gc_paused():  # millions of small objects, no cycles
        return _validate(ann_file, img_dir, images, class_texts,
                         box_tolerance, workers, max_records, progress)


def _validate(ann_file: Any, img_dir: Optional[str], images: str,
              class_texts: Optional[str], box_tolerance: float,
              workers: int, max_records: Optional[int],
              progress: bool) -> ValidationReport:
    """The body of :func:`validate_mmioc`."""
    if isinstance(ann_file, dict):
        data, file = ann_file, '<dict>'
    else:
        file = str(ann_file)
        if img_dir is None:
            img_dir = osp.join(
                osp.dirname(osp.dirname(osp.abspath(file))), 'images')
        try:
            data = load_json(file, 'annotation file')
        except (FileNotFoundError, ValueError) as err:
            report = ValidationReport(file, image_check=images)
            report.add(Problem('bad_structure', file, detail=str(err)))
            return report
    report = ValidationReport(file, image_check=images,
                              max_records=max_records)
    if not isinstance(data, dict) or not all(
            isinstance(data.get(k), list) for k in REQUIRED_KEYS):
        missing = [k for k in REQUIRED_KEYS
                   if not isinstance(data, dict)
                   or not isinstance(data.get(k), list)]
        report.add(Problem('bad_structure', file,
                           detail=f'no list {missing}'))
        return report
    if images != 'none' and img_dir is None:
        raise ValueError('img_dir is needed to check the images of a dict')
    imgs, anns, cats = (data['images'], data['annotations'],
                        data['categories'])
    report.num_images = len(imgs)
    report.num_annotations = len(anns)
    report.num_categories = len(cats)

    # categories
    if not cats:
        report.add(Problem('no_categories', file))
    cat_ids, cat_id_ok = check_categories(cats, file, report)
    if class_texts is not None:
        check_class_texts(cats, cat_ids, cat_id_ok, class_texts, report)

    # images
    img_ids, bad_id = int_field(imgs, 'id')
    widths, bad_w = float_field(imgs, 'width')
    heights, bad_h = float_field(imgs, 'height')
    names = [im.get('file_name') if isinstance(im, dict) else None
             for im in imgs]
    bad_name = [i for i, n in enumerate(names)
                if not isinstance(n, str) or not n]
    bad_size = np.flatnonzero(~((widths > 0) & (heights > 0))).tolist()
    bad_image = sorted(set(bad_id) | set(bad_w) | set(bad_h) | set(bad_name)
                       | set(bad_size))
    id_ok = np.ones(len(imgs), dtype=bool)
    id_ok[bad_id] = False
    for i in bad_image:
        fields = {k: imgs[i].get(k) if isinstance(imgs[i], dict) else None
                  for k in ('id', 'file_name', 'width', 'height')}
        report.add(
            Problem('bad_image_record', file,
                    image_id=int(img_ids[i]) if id_ok[i] else None, index=i,
                    detail=', '.join(f'{k}={v!r:.40}'
                                     for k, v in fields.items())))
    for i in _duplicates(img_ids, id_ok).tolist():
        report.add(Problem('duplicate_image_id', file,
                           image_id=int(img_ids[i]), index=i))
    name_codes, _ = encode_strings(names)
    for i in _duplicates(name_codes, name_codes >= 0).tolist():
        report.add(
            Problem('duplicate_file_name', file,
                    image_id=int(img_ids[i]) if id_ok[i] else None, index=i,
                    detail=names[i]))
    image_ok = np.ones(len(imgs), dtype=bool)
    image_ok[bad_image] = False

    # annotations
    ann_ids, bad_ann_id = int_field(anns, 'id')
    ann_img_ids, bad_img_ref = int_field(anns, 'image_id')
    ann_cat_ids, bad_cat_ref = int_field(anns, 'category_id')
    bad_ann = sorted(set(bad_ann_id) | set(bad_img_ref) | set(bad_cat_ref))
    ann_id_ok = np.ones(len(anns), dtype=bool)
    ann_id_ok[bad_ann_id] = False
    bad_img_set, bad_cat_set = set(bad_img_ref), set(bad_cat_ref)

    def ann_problem(reason: str, j: int, detail: str = '') -> Problem:
        return Problem(
            reason,
            file,
            image_id=int(ann_img_ids[j]) if j not in bad_img_set else None,
            ann_id=int(ann_ids[j]) if ann_id_ok[j] else None,
            category_id=int(ann_cat_ids[j])
            if j not in bad_cat_set else None,
            index=j,
            detail=detail)

    for j in bad_ann:
        fields = {k: anns[j].get(k) if isinstance(anns[j], dict) else None
                  for k in ('id', 'image_id', 'category_id')}
        report.add(
            ann_problem('bad_annotation_record', j,
                        ', '.join(f'{k}={v!r:.40}'
                                  for k, v in fields.items())))
    for j in _duplicates(ann_ids, ann_id_ok).tolist():
        report.add(ann_problem('duplicate_annotation_id', j))

    # image of every annotation (first image with the id)
    ann_image = _lookup(img_ids, id_ok, ann_img_ids)
    ref_ok = np.ones(len(anns), dtype=bool)
    ref_ok[bad_img_ref] = False
    for j in np.flatnonzero(ref_ok & (ann_image < 0)).tolist():
        report.add(ann_problem('unknown_image_id', j))
    ann_label = _lookup(cat_ids, cat_id_ok, ann_cat_ids)
    cat_ref_ok = np.ones(len(anns), dtype=bool)
    cat_ref_ok[bad_cat_ref] = False
    for j in np.flatnonzero(cat_ref_ok & (ann_label < 0)).tolist():
        report.add(ann_problem('unknown_category_id', j))

    bboxes, bad_box = float_field(anns, 'bbox', width=4)
    bboxes = bboxes.reshape(-1, 4)
    for j in bad_box:
        bbox = anns[j].get('bbox') if isinstance(anns[j], dict) else None
        report.add(ann_problem('bad_bbox', j, f'bbox {bbox!r:.60}'))
    box_ok = np.ones(len(anns), dtype=bool)
    box_ok[bad_box] = False
    x, y, w, h = bboxes.T
    non_positive = box_ok & ~((w > 0) & (h > 0))
    for j in np.flatnonzero(non_positive).tolist():
        report.add(ann_problem('non_positive_box', j,
                               f'bbox {bboxes[j].tolist()}'))
    has_image = ann_image >= 0
    img_w = np.where(has_image, widths[np.maximum(ann_image, 0)], np.nan)
    img_h = np.where(has_image, heights[np.maximum(ann_image, 0)], np.nan)
    in_image = has_image & image_ok[np.maximum(ann_image, 0)]
    tol = box_tolerance
    with np.errstate(invalid='ignore'):
        outside = box_ok & in_image & ((x < -tol) | (y < -tol) |
                                       (x + w > img_w + tol) |
                                       (y + h > img_h + tol))
    for j in np.flatnonzero(outside).tolist():
        report.add(
            ann_problem(
                'box_out_of_range', j, f'bbox {bboxes[j].tolist()} in a '
                f'{img_w[j]:g}x{img_h[j]:g} image'))
    areas, bad_area = float_field(anns, 'area')
    bad_area = sorted(set(bad_area) | set(np.flatnonzero(
        ~(areas > 0)).tolist()))
    for j in bad_area:
        area = anns[j].get('area') if isinstance(anns[j], dict) else None
        report.add(ann_problem('bad_area', j, f'area {area!r:.40}'))

    # scenes of images vs categories
    img_scene = [im.get('scene') if isinstance(im, dict) else None
                 for im in imgs]
    cat_scene = [c.get('scene') if isinstance(c, dict) else None
                 for c in cats]
    codes, _ = encode_strings(list(cat_scene) + img_scene)
    cat_code, img_code = codes[:len(cats)], codes[len(cats):]
    known = (ann_image >= 0) & (ann_label >= 0)
    a_img = np.maximum(ann_image, 0)
    a_cat = np.maximum(ann_label, 0)
    if len(cats):
        mismatch = known & (img_code[a_img] >= 0) & (cat_code[a_cat] >= 0) \
            & (img_code[a_img] != cat_code[a_cat])
    else:
        mismatch = np.zeros(len(anns), dtype=bool)
    flagged = set()
    for j in np.flatnonzero(mismatch).tolist():
        if ann_image[j] in flagged:
            continue  # one warning per image
        flagged.add(ann_image[j])
        report.add(
            ann_problem(
                'scene_mismatch', j, f'image scene {img_scene[a_img[j]]!r}, '
                f'category scene {cat_scene[a_cat[j]]!r}'))

    # image files
    if images != 'none':
        to_check = np.flatnonzero(np.array(
            [isinstance(n, str) and bool(n) for n in names], dtype=bool))
        paths = [osp.join(img_dir, names[i]) for i in to_check.tolist()]
        results = check_image_files(paths, images == 'decode', workers,
                                    progress)
        report.images_checked = len(paths)
        checked = zip(to_check.tolist(), paths, results)
        for i, path, (status, value) in checked:
            image_id = int(img_ids[i]) if id_ok[i] else None
            if status == 'missing':
                report.add(Problem('missing_image_file', path,
                                   image_id=image_id, index=i))
            elif status == 'unreadable':
                report.add(Problem('unreadable_image', path,
                                   image_id=image_id, index=i,
                                   detail=value))
            elif image_ok[i] and tuple(value) != (widths[i], heights[i]):
                report.add(
                    Problem('size_mismatch', path, image_id=image_id,
                            index=i,
                            detail=f'file {value[0]}x{value[1]}, recorded '
                            f'{widths[i]:g}x{heights[i]:g}'))
    return report
