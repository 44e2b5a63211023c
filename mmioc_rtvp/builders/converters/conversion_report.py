# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The rejection report of a conversion: where every input box went."""
import json
import os
import os.path as osp
from collections import Counter
from typing import Any, Dict, List, Optional

#: Why a box can be rejected (code -> meaning).
BOX_REASONS = {
    'unknown_class': 'source class not in the mapping (or class index not '
    'in the class list)',
    'nan_value': 'NaN or infinite coordinate',
    'malformed_record': 'malformed line or record',
    'non_positive_size': 'zero or negative width or height',
    'outside_image': 'box fully outside the image',
    'duplicate_id': 'duplicate or ambiguous id (annotation, image or file)',
    'missing_image': 'its image file does not exist',
    'unknown_image_id': "its image id is not in the annotation file's "
    'image list',
    'corrupt_image': 'its image file cannot be read',
    'malformed_annotation_file': 'its annotation file cannot be parsed',
}

#: Why an image can be rejected (code -> meaning).
IMAGE_REASONS = {
    'missing_image':
    'the image file does not exist',
    'corrupt_image':
    'the image file cannot be read',
    'duplicate_id':
    'duplicate or ambiguous id',
    'malformed_record':
    'malformed image record',
    'malformed_annotation_file':
    'its annotation file cannot be parsed',
    'missing_annotation':
    'a defect image without its mask',
    'all_boxes_rejected':
    'every box of the image was rejected (kept, it '
    'would wrongly count as defect-free)',
}


class ConversionReport:
    """Counts and itemised rejections of one conversion.

    Every input box is either converted or listed in :attr:`rejections`
    with a reason from :data:`BOX_REASONS`; every input image is either
    converted or listed in :attr:`rejected_images`. Boxes partly outside
    their image are clipped, converted and listed in :attr:`clipped`.

    Args:
        name (str): Dataset name (the output file stem).
        source_format (str): ``'yolo'``, ``'voc'``, ``'coco'`` or
            ``'mvtec'``.
        source (dict): Where the source is (paths), for the record.
    """

    def __init__(self, name: str, source_format: str,
                 source: Dict[str, Any]) -> None:
        self.name = name
        self.source_format = source_format
        self.source = dict(source)
        self.input_images = 0
        self.input_boxes = 0
        self.converted_images = 0
        self.converted_boxes = 0
        self.defect_free_images = 0
        self.partially_rejected_images = 0
        self.rejections: List[dict] = []
        self.rejected_images: List[dict] = []
        self.clipped: List[dict] = []
        self.size_mismatches: List[dict] = []
        self.exif_rotated: List[str] = []
        self.image_modes: Counter = Counter()
        self.notes: List[str] = []
        # problems that leave every count reconciled but the dataset likely
        # wrong (e.g. no label file found at all): printed loudly
        self.warnings: List[str] = []
        self.outputs: Dict[str, str] = {}

    # ---------------------------------------------------------------- record
    def reject_box(self,
                   file: str,
                   record: str,
                   reason: str,
                   detail: str = '',
                   image: Optional[str] = None,
                   boxes: int = 1,
                   estimated: bool = False) -> None:
        """Record the rejection of a box (or of ``boxes`` uncounted boxes).

        Args:
            file (str): Annotation file of the box, relative to the source.
            record (str): Where in the file, e.g. ``'line 3'``.
            reason (str): A key of :data:`BOX_REASONS`.
            detail (str): Human-readable specifics.
            image (str, optional): The image the box belongs to.
            boxes (int): Number of boxes the entry stands for: 1, or the
                number of boxes of an unparsable file. Defaults to 1.
            estimated (bool): ``boxes`` was estimated from the raw text of
                an unparsable file.
        """
        if reason not in BOX_REASONS:
            raise ValueError(f'unknown rejection reason {reason!r}')
        entry = dict(file=file, record=record, reason=reason, detail=detail)
        if image is not None:
            entry['image'] = image
        if boxes != 1 or estimated:
            entry['boxes'] = boxes
            entry['estimated'] = estimated
        self.rejections.append(entry)

    def reject_image(self,
                     image: str,
                     reason: str,
                     detail: str = '',
                     file: Optional[str] = None) -> None:
        """Record the rejection of an image.

        Args:
            image (str): The image path, relative to the source.
            reason (str): A key of :data:`IMAGE_REASONS`.
            detail (str): Human-readable specifics.
            file (str, optional): The annotation file that refers to it.
        """
        if reason not in IMAGE_REASONS:
            raise ValueError(f'unknown image rejection reason {reason!r}')
        entry = dict(image=image, reason=reason, detail=detail)
        if file is not None:
            entry['file'] = file
        self.rejected_images.append(entry)

    # --------------------------------------------------------------- summary
    @property
    def rejected_boxes(self) -> int:
        """Number of rejected boxes."""
        return sum(r.get('boxes', 1) for r in self.rejections)

    def reconciles(self) -> bool:
        """Whether input = converted + rejected, for boxes and images."""
        return (self.input_boxes == self.converted_boxes + self.rejected_boxes
                and self.input_images
                == self.converted_images + len(self.rejected_images))

    def summary(self) -> Dict[str, Any]:
        """The counts, by reason, as a dict."""
        box_reasons = Counter()
        for r in self.rejections:
            box_reasons[r['reason']] += r.get('boxes', 1)
        image_reasons = Counter(r['reason'] for r in self.rejected_images)
        return dict(
            input_images=self.input_images,
            converted_images=self.converted_images,
            rejected_images=len(self.rejected_images),
            defect_free_images=self.defect_free_images,
            partially_rejected_images=self.partially_rejected_images,
            input_boxes=self.input_boxes,
            converted_boxes=self.converted_boxes,
            rejected_boxes=self.rejected_boxes,
            clipped_boxes=len(self.clipped),
            rejected_boxes_by_reason=dict(sorted(box_reasons.items())),
            rejected_images_by_reason=dict(sorted(image_reasons.items())),
            size_mismatches=len(self.size_mismatches),
            exif_rotated_images=len(self.exif_rotated),
            image_modes=dict(sorted(self.image_modes.items())),
            reconciles=self.reconciles())

    def reconciliation_line(self) -> str:
        """``input boxes N = converted C + rejected R (clipped K)``."""
        return (f'input boxes {self.input_boxes} = converted '
                f'{self.converted_boxes} + rejected {self.rejected_boxes} '
                f'(clipped {len(self.clipped)})')

    def format_summary(self) -> str:
        """A short human-readable summary (a few lines)."""
        s = self.summary()
        lines = [
            f'[{self.name}] {self.source_format} -> MMIOC',
            f"images: input {s['input_images']} = converted "
            f"{s['converted_images']} + rejected {s['rejected_images']} "
            f"(defect-free {s['defect_free_images']}, kept with some boxes "
            f"rejected {s['partially_rejected_images']})",
            self.reconciliation_line(),
        ]
        if s['rejected_boxes_by_reason']:
            lines.append('rejected boxes: ' + ', '.join(
                f'{k} {v}' for k, v in s['rejected_boxes_by_reason'].items()))
        if s['rejected_images_by_reason']:
            lines.append('rejected images: ' + ', '.join(
                f'{k} {v}' for k, v in s['rejected_images_by_reason'].items()))
        if s['size_mismatches'] or s['exif_rotated_images']:
            lines.append(f"annotated size != image size: "
                         f"{s['size_mismatches']} image(s); EXIF-rotated "
                         f"images: {s['exif_rotated_images']}")
        if s['image_modes']:
            lines.append('image modes: ' +
                         ', '.join(f'{k} {v}'
                                   for k, v in s['image_modes'].items()))
        lines.extend(f'note: {n}' for n in self.notes)
        lines.extend(f'WARNING: {w}' for w in self.warnings)
        for key, path in self.outputs.items():
            lines.append(f'{key}: {path}')
        if not s['reconciles']:
            lines.append('ERROR: the counts do not reconcile (a bug)')
        return '\n'.join(lines)

    def to_dict(self) -> Dict[str, Any]:
        """The whole report as JSON-serialisable data."""
        return dict(
            name=self.name,
            format=self.source_format,
            source=self.source,
            summary=self.summary(),
            reasons=dict(boxes=BOX_REASONS, images=IMAGE_REASONS),
            rejections=self.rejections,
            rejected_images=self.rejected_images,
            clipped=self.clipped,
            size_mismatches=self.size_mismatches,
            exif_rotated=self.exif_rotated,
            notes=self.notes,
            warnings=self.warnings)

    def write(self, path: str) -> None:
        """Write :meth:`to_dict` as UTF-8 JSON (non-ASCII kept as is)."""
        os.makedirs(osp.dirname(path) or '.', exist_ok=True)
        tmp = path + '.tmp'
        with open(tmp, 'w', encoding='utf-8') as f:
            json.dump(self.to_dict(), f, ensure_ascii=False, indent=1)
        os.replace(tmp, path)
