# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The format-independent part of the converters.

A format converter only *scans* its source: it lists the images with the
boxes found in their annotation files (:class:`SourceImage`,
:class:`SourceBox`) and reports what cannot be tied to an image (orphan
annotation files, unparsable files). :class:`BaseConverter` then

1. probes every image (size read from the file, integrity check, MVTec masks
   turned into boxes), in ``num_workers`` processes with ordered results;
2. checks every box in the main process, in a fixed order (parse error,
   unknown class, zero/negative size, fully outside, clipping) and records
   each rejection with its file, record and reason;
3. drops images whose every box was rejected (kept, they would wrongly count
   as defect-free);
4. assigns ids in sorted file-name order (identical output on re-runs),
   places the images (copy / hard link / symbolic link, never writing to the
   source) and writes ``annotations/<name>.json``,
   ``reports/<name>_rejections.json`` and ``reports/<name>_summary.txt``.
"""
import filecmp
import glob
import json
import math
import os
import os.path as osp
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from mmioc_rtvp.format.file_io import is_within, write_json
from mmioc_rtvp.format.taxonomy import Taxonomy
from ..parallel import parallel_map
from .class_mapping import CategorySpec, ClassMapping
from .conversion_report import BOX_REASONS, ConversionReport
from .image_io import CHECKS, IMAGE_MODES, ImageError, place_image, probe_image

#: Box coordinate formats of :class:`SourceBox`.
BOX_FORMATS = ('xyxy', 'xywh', 'cxcywh_norm', 'xyxy_norm')


@dataclass
class SourceBox:
    """A box as found in the source, before any check.

    Args:
        file (str): Annotation file, relative to the source root.
        record (str): Position in the file (``'line 3'``, ``'object 2'``).
        label (str, optional): Source class name.
        coords (tuple[float]): 4 numbers in ``fmt``.
        fmt (str): ``'xyxy'`` / ``'xywh'`` in pixels, or ``'cxcywh_norm'`` /
            ``'xyxy_norm'`` relative to the image size. Defaults to
            ``'xyxy'``.
        iscrowd (int): COCO crowd flag. Defaults to 0.
        error (tuple[str, str], optional): ``(reason, detail)`` when parsing
            already rejected the box.
    """
    file: str
    record: str
    label: Optional[str] = None
    coords: Tuple[float, ...] = ()
    fmt: str = 'xyxy'
    iscrowd: int = 0
    error: Optional[Tuple[str, str]] = None


@dataclass
class MaskSource:
    """A binary mask whose connected components are boxes of ``label``.

    Args:
        abs_path (str): Mask file.
        rel_path (str): Mask file relative to the source root.
        label (str): Source class name of its components.
    """
    abs_path: str
    rel_path: str
    label: str


@dataclass
class SourceImage:
    """An image of the source with its boxes.

    Args:
        rel_path (str): Path relative to the source root (for reports).
        abs_path (str): Path of the image file (may not exist).
        file_name (str): Output ``file_name`` (relative to ``images/``).
        boxes (list[SourceBox]): Boxes from its annotation file(s).
        annotation_file (str, optional): The annotation file describing it.
        annotated (bool): It has an annotation file or record (an image
            without one is kept as defect-free only if the converter's
            ``keep_unannotated`` is True).
        annotated_size (tuple[int, int], optional): ``(width, height)`` the
            annotation claims; compared with the real size.
        group (str, optional): Source group (MVTec object category), for the
            scene of defect-free images.
        masks (list[MaskSource]): Masks to turn into boxes (MVTec).
        error (tuple[str, str], optional): ``(reason, detail)`` when the
            scan already rejected the image (its boxes are rejected with the
            same reason).
    """
    rel_path: str
    abs_path: str
    file_name: str
    boxes: List[SourceBox] = field(default_factory=list)
    annotation_file: Optional[str] = None
    annotated: bool = True
    annotated_size: Optional[Tuple[int, int]] = None
    group: Optional[str] = None
    masks: List[MaskSource] = field(default_factory=list)
    error: Optional[Tuple[str, str]] = None


def mask_components(path: str) -> Tuple[Tuple[int, int], List[List[int]]]:
    """Boxes of the 8-connected components of a binary mask.

    A pixel is foreground when any of its channels is non-zero. Box
    coordinates are pixel edges: a component covering columns 3..7 has
    ``x = 3, w = 5``.

    Args:
        path (str): Mask image (any PIL-readable mode, 8 or 16 bit).

    Returns:
        tuple: ``((width, height), [[x, y, w, h], ...])``, components in
        raster order of their first pixel.

    Raises:
        ImageError: The mask is missing or unreadable.
    """
    import cv2
    import numpy as np
    from PIL import Image
    if not osp.isfile(path):
        raise ImageError('missing_image', 'mask file not found')
    try:
        with Image.open(path) as img:
            array = np.asarray(img)
    except Exception as err:  # PIL raises many types on bad files
        raise ImageError('corrupt_image', f'{type(err).__name__}: {err}')
    if array.ndim == 3:
        array = array.any(axis=2)
    foreground = (array != 0).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(
        foreground, connectivity=8)
    boxes = [[int(v) for v in stats[i, :4]] for i in range(1, count)]
    return (int(foreground.shape[1]), int(foreground.shape[0])), boxes


def _probe_task(task: Tuple[str, str, List[str]]) -> Dict[str, Any]:
    """Worker: probe one image and read its masks (picklable, top level)."""
    path, check, masks = task
    result: Dict[str, Any] = {}
    try:
        result['probe'] = probe_image(path, check)
    except ImageError as err:
        result['error'] = (err.reason, err.detail)
        return result
    mask_results = []
    for mask in masks:
        try:
            mask_results.append(mask_components(mask))
        except ImageError as err:
            mask_results.append((err.reason, err.detail))
    result['masks'] = mask_results
    return result


def _place_task(task: Tuple[str, str, str]) -> str:
    return place_image(*task)


def _fmt(value: float) -> str:
    return f'{value:.6g}'


def to_xyxy(box: SourceBox, width: int,
            height: int) -> Tuple[float, float, float, float]:
    """Convert a box's coordinates to absolute ``x1, y1, x2, y2``.

    Args:
        box (SourceBox): The box (``fmt`` says how ``coords`` read).
        width (int): Image width in pixels (for normalised formats).
        height (int): Image height in pixels.

    Returns:
        tuple[float]: ``(x1, y1, x2, y2)`` in pixels (not clipped).
    """
    a, b, c, d = box.coords
    if box.fmt == 'xyxy':
        return a, b, c, d
    if box.fmt == 'xywh':
        return a, b, a + c, b + d
    if box.fmt == 'cxcywh_norm':
        return ((a - c / 2) * width, (b - d / 2) * height, (a + c / 2) * width,
                (b + d / 2) * height)
    if box.fmt == 'xyxy_norm':
        return a * width, b * height, c * width, d * height
    raise ValueError(f'unknown box format {box.fmt!r}')


def parse_finite(
    values: Sequence[str]
) -> Tuple[Optional[List[float]], Optional[Tuple[str, str]]]:
    """Parse numbers; report the first malformed or non-finite one.

    Args:
        values (list[str]): Text fields.

    Returns:
        tuple: ``(numbers, None)``, or ``(None, (reason, detail))`` with
        reason ``'malformed_record'`` or ``'nan_value'``.
    """
    numbers = []
    for v in values:
        try:
            number = float(v)
        except (TypeError, ValueError):
            return None, ('malformed_record', f'{v!r} is not a number')
        if not math.isfinite(number):
            return None, ('nan_value', f'non-finite value {v!r}')
        numbers.append(number)
    return numbers, None


class BaseConverter:
    """Turn a source dataset into the MMIOC format (see module docstring).

    Subclasses implement :meth:`scan` and set :attr:`source_format` and
    :attr:`root`.

    Args:
        mapping (str | dict | ClassMapping): Mapping file, dict or validated
            mapping (source class name -> category).
        out_dir (str): Output root: ``annotations/``, ``images/`` and
            ``reports/`` are written in it. Must not be inside the source.
        name (str): Dataset name, the stem of the output files.
        taxonomy (str | Taxonomy, optional): Taxonomy (file) the mapping is
            checked against. Defaults to the starting taxonomy.
        image_mode (str): ``'copy'`` (default), ``'hardlink'`` or
            ``'symlink'``.
        check (str): Image integrity check: ``'header'``, ``'fast'``
            (default) or ``'decode'``; see
            :mod:`~mmioc_rtvp.builders.converters.image_io`.
        keep_unannotated (bool): Keep images that have no annotation file
            as defect-free images (YOLO's convention for background images).
            If False they are rejected as ``missing_annotation``. Defaults to
            True.
        num_workers (int): Processes probing images; 0 or 1 probes in this
            process. Results are identical for any value. Defaults to 0.
        progress (bool): Show tqdm progress bars. Defaults to False.

    Raises:
        MappingError: The mapping is invalid.
        ValueError: An option is invalid.
    """

    source_format = ''

    def __init__(self,
                 mapping: Union[str, dict, ClassMapping],
                 out_dir: str,
                 name: str,
                 taxonomy: Union[None, str, Taxonomy] = None,
                 image_mode: str = 'copy',
                 check: str = 'fast',
                 keep_unannotated: bool = True,
                 num_workers: int = 0,
                 progress: bool = False) -> None:
        if image_mode not in IMAGE_MODES:
            raise ValueError(f'image_mode must be one of {IMAGE_MODES}, got '
                             f'{image_mode!r}')
        if check not in CHECKS:
            raise ValueError(f'check must be one of {CHECKS}, got {check!r}')
        if (not name or '/' in name or '\\' in name or name.startswith('.')):
            raise ValueError(f'dataset name {name!r} must be a plain file '
                             'name (no path separator, not hidden)')
        self.taxonomy = (
            taxonomy
            if isinstance(taxonomy, Taxonomy) else Taxonomy.load(taxonomy))
        if isinstance(mapping, ClassMapping):
            self.mapping = mapping
        elif isinstance(mapping, dict):
            self.mapping = ClassMapping.from_dict(mapping, self.taxonomy)
        else:
            self.mapping = ClassMapping.load(mapping, self.taxonomy)
        self.out_dir = out_dir
        self.name = name
        self.image_mode = image_mode
        self.check = check
        self.keep_unannotated = keep_unannotated
        self.num_workers = int(num_workers)
        self.progress = progress
        self.root = ''
        self.report: ConversionReport

    # ------------------------------------------------------------ interface
    def scan(self) -> List[SourceImage]:
        """List the source images with their boxes.

        Annotation records that belong to no image, and files that cannot be
        parsed, are reported here with :meth:`orphan_boxes`.

        Returns:
            list[SourceImage]: Every image of the source.
        """
        raise NotImplementedError

    def source_info(self) -> Dict[str, Any]:
        """Paths and options of the source, recorded in the report."""
        return dict(root=self.root)

    def orphan_boxes(self,
                     file: str,
                     record: str,
                     reason: str,
                     detail: str,
                     boxes: int = 1,
                     estimated: bool = False,
                     image: Optional[str] = None) -> None:
        """Count and reject input boxes that belong to no kept image."""
        self.report.input_boxes += boxes
        self.report.reject_box(
            file,
            record,
            reason,
            detail,
            image=image,
            boxes=boxes,
            estimated=estimated)

    def orphan_image(self,
                     image: str,
                     reason: str,
                     detail: str,
                     file: Optional[str] = None) -> None:
        """Count and reject an input image that :meth:`scan` does not
        return (e.g. a malformed image record)."""
        self.report.input_images += 1
        self.report.reject_image(image, reason, detail, file=file)

    # ---------------------------------------------------------------- run
    def _map(self, func: Callable, tasks: list, desc: str,
             processes: bool) -> list:
        """``[func(t) for t in tasks]``, in parallel, in order."""
        return parallel_map(func, tasks, self.num_workers, self.progress,
                            f'[{self.name}] {desc}', processes)

    def _check_out_dir(self) -> None:
        if self.root and is_within(self.out_dir, self.root):
            raise ValueError(f'output directory {self.out_dir} is inside the '
                             f'source {self.root}: the source is never '
                             'modified, choose another output directory')

    def convert(self) -> ConversionReport:
        """Run the conversion and write the outputs.

        Returns:
            ConversionReport: Counts and rejections; also written to
            ``reports/<name>_rejections.json``.

        Raises:
            ValueError: The output directory is inside the source, or the
                source is not laid out as the format expects.
            RuntimeError: The counts do not reconcile (a bug).
        """
        self._check_out_dir()
        self.report = ConversionReport(self.name, self.source_format,
                                       self.source_info())
        images = self.scan()
        images.sort(key=lambda im: (im.file_name, im.rel_path))
        self.report.input_images += len(images)
        todo = [im for im in images if im.error is None]
        results = self._map(
            _probe_task,
            [(im.abs_path, self.check, [m.abs_path for m in im.masks])
             for im in todo],
            'read images',
            processes=True)
        probes = {id(im): r for im, r in zip(todo, results)}

        categories = self.mapping.categories(self.taxonomy)
        cat_ids = {spec.name: i + 1 for i, spec in enumerate(categories)}
        out_images: List[dict] = []
        out_anns: List[dict] = []
        placements: List[Tuple[str, str, str]] = []
        used_names: Dict[str, str] = {}
        for im in images:
            kept = self._convert_image(im, probes.get(id(im)), used_names)
            if kept is None:
                continue
            record, anns, _ = kept
            record['id'] = len(out_images) + 1
            out_images.append(record)
            for spec, bbox, iscrowd in anns:
                out_anns.append(
                    dict(
                        id=len(out_anns) + 1,
                        image_id=record['id'],
                        category_id=cat_ids[spec.name],
                        bbox=bbox,
                        area=bbox[2] * bbox[3],
                        iscrowd=iscrowd))
            placements.append(
                (im.abs_path,
                 osp.join(self.out_dir, 'images',
                          *im.file_name.split('/')), self.image_mode))

        self.report.converted_images = len(out_images)
        self.report.converted_boxes = len(out_anns)
        if not self.report.reconciles():
            raise RuntimeError('conversion counts do not reconcile: '
                               f'{self.report.summary()}')
        self._check_name_clashes(placements)
        self._map(_place_task, placements, 'place images', processes=False)
        self._write(out_images, out_anns, categories, cat_ids)
        return self.report

    def _check_name_clashes(self, placements: List[Tuple[str, str,
                                                       str]]) -> None:
        """Refuse to replace an image of another dataset converted into the
        same output directory (before anything is written).

        The other datasets are those with a conversion report in
        ``<out>/reports`` (``<name>_rejections.json``) and their
        ``annotations/<name>.json``; re-running the same ``--name`` may
        replace its own images, and a byte-identical file may be replaced.

        Raises:
            ValueError: Some output images are already images of another
                dataset (the message names the first one and the count).
        """
        images_dir = osp.join(self.out_dir, 'images')
        # an identical file (the same source converted again under another
        # name) may be replaced: nothing is lost
        existing = [
            dst for src, dst, _ in placements if osp.lexists(dst) and not (
                osp.isfile(dst) and filecmp.cmp(src, dst, shallow=False))
        ]
        if not existing:
            return
        owners: Dict[str, str] = {}
        for report in sorted(
                glob.glob(
                    osp.join(self.out_dir, 'reports', '*_rejections.json'))):
            other = osp.basename(report)[:-len('_rejections.json')]
            ann_path = osp.join(self.out_dir, 'annotations', f'{other}.json')
            if other == self.name or not osp.isfile(ann_path):
                continue
            try:
                with open(ann_path, encoding='utf-8') as f:
                    records = json.load(f).get('images', [])
            except (OSError, ValueError, AttributeError) as err:
                raise ValueError(
                    f'{ann_path}: cannot read it to check that no image of '
                    f'dataset {other!r} would be replaced: {err}')
            for record in records:
                if isinstance(record, dict) and 'file_name' in record:
                    owners.setdefault(str(record['file_name']), other)
        clashes = []
        for dst in existing:
            file_name = osp.relpath(dst, images_dir).replace(osp.sep, '/')
            if file_name in owners:
                clashes.append((file_name, owners[file_name]))
        if clashes:
            file_name, other = clashes[0]
            raise ValueError(
                f'{len(clashes)} output image(s) would replace images of '
                f'another dataset converted into {self.out_dir}, e.g. '
                f'images/{file_name} of {other!r} (annotations/{other}.json)'
                '; nothing was written. Convert each source into its own '
                '--out and combine them with merge_mmioc.py.')

    def _convert_image(
        self, im: SourceImage, result: Optional[Dict[str, Any]],
        used_names: Dict[str, str]
    ) -> Optional[Tuple[dict, List[Tuple[CategorySpec, List[float], int]],
                        int]]:
        """Check the boxes of one image; return its record and boxes, or
        None when the image is rejected."""
        report = self.report
        boxes = list(im.boxes)
        report.input_boxes += len(boxes)

        def reject_all(reason: str, detail: str) -> None:
            report.reject_image(
                im.rel_path, reason, detail, file=im.annotation_file)
            # a box keeps its own parse error; image-only reasons (a missing
            # or empty mask) mean that the image's annotation is unusable
            box_reason = (
                reason
                if reason in BOX_REASONS else 'malformed_annotation_file')
            for box in boxes:
                report.reject_box(
                    box.file,
                    box.record,
                    box.error[0] if box.error else box_reason,
                    box.error[1] if box.error else detail,
                    image=im.rel_path)

        if im.error is not None:
            reject_all(*im.error)
            return None
        if 'error' in result:
            reject_all(*result['error'])
            return None
        probe = result['probe']
        width, height = probe.width, probe.height
        # masks -> boxes (mask errors reject the image: its labels are
        # unknown)
        for mask, mask_result in zip(im.masks, result['masks']):
            if isinstance(mask_result[0], str):
                reason, detail = mask_result
                reject_all(
                    'missing_annotation' if reason == 'missing_image' else
                    'malformed_annotation_file', f'mask {mask.rel_path}: '
                    f'{detail}')
                return None
            (mask_w, mask_h), components = mask_result
            if (mask_w, mask_h) != (width, height):
                report.size_mismatches.append(
                    dict(
                        image=im.rel_path,
                        file=mask.rel_path,
                        annotated=[mask_w, mask_h],
                        actual=[width, height]))
            if not components:
                reject_all('missing_annotation',
                           f'mask {mask.rel_path} is empty')
                return None
            for k, (x, y, w, h) in enumerate(components):
                boxes.append(
                    SourceBox(
                        mask.rel_path,
                        f'component {k + 1}',
                        mask.label, (x, y, w, h),
                        fmt='xywh'))
                report.input_boxes += 1

        report.image_modes[probe.mode] += 1
        if probe.exif_orientation not in (0, 1):
            if not report.exif_rotated:
                report.notes.append(
                    'EXIF-rotated images keep their stored pixel layout: '
                    'width, height and boxes are in stored pixels, which is '
                    'what mmioc_rtvp.LoadImageFromFile loads (EXIF '
                    'orientation ignored); boxes drawn on the rotated view '
                    'would not match')
            report.exif_rotated.append(im.rel_path)
        if (im.annotated_size is not None
                and tuple(im.annotated_size) != (width, height)):
            report.size_mismatches.append(
                dict(
                    image=im.rel_path,
                    file=im.annotation_file,
                    annotated=list(im.annotated_size),
                    actual=[width, height]))
        if im.file_name in used_names:
            reject_all(
                'duplicate_id', f"output file name '{im.file_name}' is "
                f'also that of {used_names[im.file_name]}')
            return None

        anns: List[Tuple[CategorySpec, List[float], int]] = []
        rejected = 0
        for box in boxes:
            converted = self._convert_box(im, box, width, height)
            if converted is None:
                rejected += 1
            else:
                anns.append(converted)
        if boxes and not anns:
            report.reject_image(
                im.rel_path,
                'all_boxes_rejected',
                f'all {len(boxes)} box(es) rejected',
                file=im.annotation_file)
            return None
        if not boxes and not im.annotated and not self.keep_unannotated:
            report.reject_image(im.rel_path, 'missing_annotation',
                                'no annotation file (keep_unannotated=False)')
            return None
        if rejected:
            report.partially_rejected_images += 1
        if not anns:
            report.defect_free_images += 1
        used_names[im.file_name] = im.rel_path
        record = dict(id=0, file_name=im.file_name, width=width, height=height)
        scene = self._scene_of(im, anns)
        if scene is not None:
            record['scene'] = scene
        return record, anns, rejected

    def _convert_box(
            self, im: SourceImage, box: SourceBox, width: int,
            height: int) -> Optional[Tuple[CategorySpec, List[float], int]]:
        """Check one box; record its rejection or clipping."""
        report = self.report

        def reject(reason: str, detail: str) -> None:
            report.reject_box(
                box.file, box.record, reason, detail, image=im.rel_path)

        if box.error is not None:
            reject(*box.error)
            return None
        spec = self.mapping.get(box.label)
        if spec is None:
            reject('unknown_class',
                   f"class '{box.label}' is not in the mapping")
            return None
        # rounding to 1e-6 px removes float noise of normalised formats
        # (0.55 * 200 = 110.00000000000001) that would count as clipping
        x1, y1, x2, y2 = (round(v, 6) for v in to_xyxy(box, width, height))
        if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
            reject('nan_value', f'coordinates {box.coords}')
            return None
        if x2 - x1 <= 0 or y2 - y1 <= 0:
            reject(
                'non_positive_size', f'width {_fmt(x2 - x1)}, height '
                f'{_fmt(y2 - y1)} (x1={_fmt(x1)} y1={_fmt(y1)} '
                f'x2={_fmt(x2)} y2={_fmt(y2)})')
            return None
        if x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
            reject(
                'outside_image', f'box x1={_fmt(x1)} y1={_fmt(y1)} '
                f'x2={_fmt(x2)} y2={_fmt(y2)} does not overlap the '
                f'{width}x{height} image')
            return None
        cx1, cy1 = max(0.0, x1), max(0.0, y1)
        cx2, cy2 = min(float(width), x2), min(float(height), y2)
        if (cx1, cy1, cx2, cy2) != (x1, y1, x2, y2):
            report.clipped.append(
                dict(
                    file=box.file,
                    record=box.record,
                    image=im.rel_path,
                    xyxy=[x1, y1, x2, y2],
                    clipped_xyxy=[cx1, cy1, cx2, cy2]))
        bbox = [float(cx1), float(cy1), float(cx2 - cx1), float(cy2 - cy1)]
        return spec, bbox, int(box.iscrowd)

    def _scene_of(
            self, im: SourceImage, anns: List[Tuple[CategorySpec, List[float],
                                                    int]]) -> Optional[str]:
        """Most frequent scene of the image's boxes (ties: taxonomy order);
        for a defect-free image, the mapping's scene of its group."""
        if anns:
            counts = Counter(spec.scene for spec, _, _ in anns)
            return min(
                counts,
                key=lambda s: (-counts[s], self.taxonomy.scenes.index(s)))
        return self.mapping.scene_of_group(im.group)

    def _write(self, out_images: List[dict], out_anns: List[dict],
               categories: List[CategorySpec], cat_ids: Dict[str,
                                                             int]) -> None:
        ann_path = osp.join(self.out_dir, 'annotations', f'{self.name}.json')
        report_path = osp.join(self.out_dir, 'reports',
                               f'{self.name}_rejections.json')
        summary_path = osp.join(self.out_dir, 'reports',
                                f'{self.name}_summary.txt')
        data = dict(
            info=dict(
                description=f'{self.name}: converted from {self.source_format}'
                ' by mmioc_rtvp.builders',
                version='1.0',
                split='all',
                source_format=self.source_format,
                taxonomy=f'{self.taxonomy.name} {self.taxonomy.version}'.strip(
                )),
            images=out_images,
            annotations=out_anns,
            categories=[
                spec.to_category(cat_ids[spec.name]) for spec in categories
            ])
        write_json(data, ann_path)
        self.report.outputs = dict(
            annotations=ann_path, report=report_path, summary=summary_path)
        self.report.write(report_path)
        os.makedirs(osp.dirname(summary_path), exist_ok=True)
        with open(summary_path, 'w', encoding='utf-8') as f:
            f.write(self.report.format_summary() + '\n')
