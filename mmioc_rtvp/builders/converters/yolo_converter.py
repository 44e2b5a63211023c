# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""YOLO txt -> MMIOC.

Layouts (the label of ``.../images/.../x.jpg`` is ``.../labels/.../x.txt``,
as in Ultralytics; without an ``images`` directory, ``x.txt`` next to
``x.jpg``)::

    root/images/{train,val}/x.jpg   root/labels/{train,val}/x.txt
    root/train/images/x.jpg         root/train/labels/x.txt
    root/x.jpg                      root/x.txt

``labels_dir`` overrides the rule: the label of ``images_dir/a/x.jpg`` is
``labels_dir/a/x.txt``. Class names come from ``classes.txt`` (one per line,
line ``i`` is class ``i``), a ``.names`` file or an Ultralytics
``data.yaml`` (``names`` as a list or an ``{index: name}`` map).

Each non-blank label line is ``class cx cy w h`` (normalised to the image
size) or an Ultralytics polygon ``class x1 y1 x2 y2 ...`` (its bounding box
is taken). An image without a label file is a defect-free (background)
image. Output ``file_name`` is the image path relative to ``root``, without a
leading ``images/``.
"""
import os.path as osp
from typing import Any, Dict, List, Optional, Tuple

from .base_converter import BaseConverter, SourceBox, SourceImage, parse_finite
from mmioc_rtvp.format.file_io import relative_to, split_posix, walk_files
from .image_io import is_image_file

_NOT_LABELS = ('classes.txt', 'readme.txt', 'license.txt', 'notes.txt')


def read_class_names(path: str) -> List[Optional[str]]:
    """Read YOLO class names.

    Args:
        path (str): ``classes.txt`` / ``*.names`` (one name per line) or an
            Ultralytics ``*.yaml`` with ``names``.

    Returns:
        list[str | None]: Name of class index ``i`` (``None`` for indices a
        YAML map leaves out).

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: The file cannot be read or holds no names (the message
            names the file and the reason).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'class file not found: {path}')
    if path.lower().endswith(('.yaml', '.yml')):
        try:
            import yaml
        except ImportError:
            raise ValueError(f'{path}: reading data.yaml needs PyYAML; '
                             'write the names in a classes.txt instead')
        try:
            with open(path, encoding='utf-8-sig') as f:
                data = yaml.safe_load(f)
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            first = str(err).splitlines()[0] if str(err) else repr(err)
            raise ValueError(f'{path}: not valid YAML: {first}')
        names = data.get('names') if isinstance(data, dict) else None
        if isinstance(names, list) and names:
            return [str(n) for n in names]
        if isinstance(names, dict) and names:
            try:
                index = {int(k): str(v) for k, v in names.items()}
            except (TypeError, ValueError):
                raise ValueError(f'{path}: names keys must be class indices')
            if min(index) < 0:
                raise ValueError(f'{path}: negative class index')
            return [index.get(i) for i in range(max(index) + 1)]
        raise ValueError(f"{path}: no 'names' list or map")
    try:
        with open(path, encoding='utf-8-sig') as f:
            lines = [line.strip() for line in f.read().splitlines()]
    except UnicodeDecodeError as err:
        raise ValueError(f'{path}: not UTF-8 text: {err}')
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise ValueError(f'{path}: no class names')
    for i, line in enumerate(lines):
        if not line:
            raise ValueError(f'{path}: line {i + 1} is blank (class {i} '
                             'has no name)')
    return lines


def _count_lines(raw: bytes) -> int:
    return sum(1 for line in raw.splitlines() if line.strip())


class YOLOConverter(BaseConverter):
    """Convert a YOLO txt dataset (see the module docstring).

    Args:
        root (str): Dataset root.
        classes_file (str, optional): ``classes.txt``, ``*.names`` or
            ``data.yaml``. Defaults to the first of ``classes.txt``,
            ``data.yaml``, ``dataset.yaml`` found in ``root``.
        images_dir (str, optional): Where the images are. Defaults to
            ``root``.
        labels_dir (str, optional): Mirror of ``images_dir`` holding the
            labels. Defaults to the Ultralytics rule.
        **kwargs: :class:`BaseConverter` arguments (``mapping``,
            ``out_dir``, ``name``, ...).

    Raises:
        FileNotFoundError: ``root`` or the class file does not exist.
        ValueError: The class file is invalid.
    """

    source_format = 'yolo'

    def __init__(self,
                 root: str,
                 classes_file: Optional[str] = None,
                 images_dir: Optional[str] = None,
                 labels_dir: Optional[str] = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not osp.isdir(root):
            raise FileNotFoundError(f'YOLO dataset root not found: {root}')
        self.root = root
        # path -> posix path relative to the root (reports, file names)
        self._rel = relative_to(root)
        if classes_file is None:
            for candidate in ('classes.txt', 'data.yaml', 'dataset.yaml'):
                if osp.isfile(osp.join(root, candidate)):
                    classes_file = osp.join(root, candidate)
                    break
            else:
                raise FileNotFoundError(
                    f'no classes.txt or data.yaml in {root}: give the class '
                    'file explicitly')
        self.classes_file = classes_file
        self.class_names = read_class_names(classes_file)
        self.images_dir = images_dir or root
        self.labels_dir = labels_dir
        for d in (self.images_dir, self.labels_dir):
            if d is not None and not osp.isdir(d):
                raise FileNotFoundError(f'directory not found: {d}')

    def source_info(self) -> Dict[str, Any]:
        return dict(
            root=osp.abspath(self.root),
            classes_file=osp.abspath(self.classes_file),
            images_dir=osp.abspath(self.images_dir),
            labels_dir=(osp.abspath(self.labels_dir)
                        if self.labels_dir else None),
            class_names=self.class_names)

    def _label_candidates(self, image_path: str) -> List[str]:
        """Label paths of an image, most specific first.

        With ``labels_dir``: ``labels_dir/<path relative to images_dir>``,
        then, when that path passes through an ``images`` folder (e.g.
        ``--labels ROOT/labels`` with the images under ``ROOT/images`` and
        no ``--images``), ``labels_dir/<path after images/>``. Without it,
        the Ultralytics rule (the last ``images`` folder -> ``labels``).
        """
        stem = osp.splitext(image_path)[0]
        if self.labels_dir is not None:
            parts = split_posix(
                osp.relpath(stem, self.images_dir).replace(osp.sep, '/'))
            candidates = [osp.join(self.labels_dir, *parts) + '.txt']
            for i in range(len(parts) - 2, -1, -1):
                if parts[i] == 'images':
                    candidates.append(
                        osp.join(self.labels_dir, *parts[i + 1:]) + '.txt')
                    break
            return candidates
        parts = split_posix(self._rel(stem))
        for i in range(len(parts) - 2, -1, -1):
            if parts[i] == 'images':
                parts[i] = 'labels'
                break
        return [osp.join(self.root, *parts) + '.txt']

    def _label_path(self, image_path: str) -> str:
        """The first existing label candidate of an image (else the first)."""
        candidates = self._label_candidates(image_path)
        for candidate in candidates:
            if osp.isfile(candidate):
                return candidate
        return candidates[0]

    def _expected_images(self, label_path: str) -> List[str]:
        """Where the lookup rule expects the image of a label file (stems
        relative to the root, any image extension), inverse of
        :meth:`_label_candidates`."""
        stem = osp.splitext(label_path)[0]
        if self.labels_dir is not None:
            rel = osp.relpath(stem, self.labels_dir)
            found = [self._rel(osp.join(self.images_dir, rel))]
            under_images = osp.join(self.images_dir, 'images')
            if osp.isdir(under_images):
                found.append(self._rel(osp.join(under_images, rel)))
            return found
        parts = split_posix(self._rel(stem))
        for i in range(len(parts) - 2, -1, -1):
            if parts[i] == 'labels':
                parts[i] = 'images'
                break
        return ['/'.join(parts)]

    def _label_files(self, image_dirs: set) -> List[str]:
        """Every file that may be a label file (to find orphans)."""
        if self.labels_dir is not None:
            return [
                p for p, rel in walk_files(self.labels_dir)
                if rel.lower().endswith('.txt')
            ]
        classes = osp.realpath(self.classes_file)
        found = []
        for path, rel in walk_files(self.root):
            if not rel.lower().endswith('.txt'):
                continue
            if (osp.basename(rel).lower() in _NOT_LABELS
                    or osp.realpath(path) == classes):
                continue
            if ('labels' in split_posix(rel)[:-1]
                    or osp.dirname(path) in image_dirs):
                found.append(path)
        return found

    def _parse_label(self,
                     path: str) -> Tuple[List[SourceBox], Optional[int], str]:
        """Boxes of a label file; or ``([], n, detail)`` when the file itself
        cannot be read (n = estimated number of boxes)."""
        rel = self._rel(path)
        try:
            with open(path, 'rb') as f:
                raw = f.read()
        except OSError as err:
            return [], 0, f'cannot read: {err}'
        try:
            text = raw.decode('utf-8-sig')
        except UnicodeDecodeError as err:
            return [], _count_lines(raw), f'not UTF-8 text: {err.reason} at ' \
                f'byte {err.start}'
        boxes = []
        num_classes = len(self.class_names)
        for lineno, line in enumerate(text.splitlines(), start=1):
            fields = line.split()
            if not fields:
                continue
            record = f'line {lineno}'
            if len(fields) != 5 and (len(fields) < 7 or len(fields) % 2 == 0):
                boxes.append(
                    SourceBox(
                        rel,
                        record,
                        error=('malformed_record',
                               f'{len(fields)} values; expected 5 (class cx '
                               'cy w h) or a polygon (class x1 y1 x2 y2 x3 '
                               f'y3 ...): {line.strip()[:80]!r}')))
                continue
            numbers, error = parse_finite(fields)
            if error is not None:
                boxes.append(SourceBox(rel, record, error=error))
                continue
            cls = numbers[0]
            if cls != int(cls):
                boxes.append(
                    SourceBox(
                        rel,
                        record,
                        error=('malformed_record',
                               f'class index {fields[0]!r} is not an '
                               'integer')))
                continue
            cls = int(cls)
            name = (self.class_names[cls] if 0 <= cls < num_classes else None)
            if name is None:
                boxes.append(
                    SourceBox(
                        rel,
                        record,
                        error=('unknown_class', f'class index {cls} is not in '
                               f'{osp.basename(self.classes_file)} '
                               f'({num_classes} names)')))
                continue
            if len(fields) == 5:
                boxes.append(
                    SourceBox(
                        rel,
                        record,
                        name,
                        tuple(numbers[1:]),
                        fmt='cxcywh_norm'))
            else:
                xs, ys = numbers[1::2], numbers[2::2]
                boxes.append(
                    SourceBox(
                        rel,
                        record,
                        name, (min(xs), min(ys), max(xs), max(ys)),
                        fmt='xyxy_norm'))
        return boxes, None, ''

    def scan(self) -> List[SourceImage]:
        image_paths = [
            p for p, rel in walk_files(self.images_dir) if is_image_file(rel)
        ]
        by_label: Dict[str, List[str]] = {}
        for path in image_paths:
            by_label.setdefault(self._label_path(path), []).append(path)
        images: List[SourceImage] = []
        for label_path, paths in sorted(by_label.items()):
            label_rel = self._rel(label_path)
            has_label = osp.isfile(label_path)
            boxes, unparsed, detail = (
                self._parse_label(label_path) if has_label else ([], None, ''))
            error = None
            if unparsed is not None:
                self.orphan_boxes(
                    label_rel,
                    'whole file',
                    'malformed_annotation_file',
                    detail,
                    boxes=unparsed,
                    estimated=True,
                    image=self._rel(paths[0]) if len(paths) == 1 else None)
                error = ('malformed_annotation_file',
                         f'label file {label_rel}: {detail}')
            if len(paths) > 1:
                others = ', '.join(self._rel(p) for p in paths)
                error = ('duplicate_id',
                         f'label file {label_rel} is shared by {len(paths)} '
                         f'images: {others}')
            for i, path in enumerate(paths):
                rel = self._rel(path)
                parts = split_posix(rel)
                if len(parts) > 1 and parts[0] == 'images':
                    parts = parts[1:]
                images.append(
                    SourceImage(
                        rel_path=rel,
                        abs_path=path,
                        file_name='/'.join(parts),
                        # shared boxes are rejected (and counted) once
                        boxes=boxes if i == 0 else [],
                        annotation_file=label_rel if has_label else None,
                        annotated=has_label,
                        error=error))
        claimed = {osp.normpath(p) for p in by_label}
        image_dirs = {osp.dirname(p) for p in image_paths}
        # image stem -> (image, where its label was looked up), for hints
        by_stem: Dict[str, List[Tuple[str, str]]] = {}
        for label_path, paths in by_label.items():
            for path in paths:
                stem = osp.splitext(osp.basename(path))[0]
                by_stem.setdefault(stem, []).append(
                    (self._rel(path), self._rel(label_path)))
        for path in self._label_files(image_dirs):
            if osp.normpath(path) in claimed:
                continue
            rel = self._rel(path)
            expected = ' or '.join(
                e + '.*' for e in self._expected_images(path))
            detail = f'label file {rel} has no image (looked for {expected})'
            namesakes = by_stem.get(osp.splitext(osp.basename(path))[0])
            if namesakes:
                image_rel, looked_up = namesakes[0]
                detail += (f'; image {image_rel} has its name, but its label '
                           f'was looked up at {looked_up}: do --images and '
                           '--labels mirror each other?')
            self.orphan_image(expected, 'missing_image', detail, file=rel)
            boxes, unparsed, detail = self._parse_label(path)
            if unparsed is not None:
                self.orphan_boxes(
                    rel,
                    'whole file',
                    'malformed_annotation_file',
                    detail,
                    boxes=unparsed,
                    estimated=True)
                continue
            for box in boxes:
                reason, detail = box.error or (
                    'missing_image', f'no image for label file {rel}')
                self.orphan_boxes(box.file, box.record, reason, detail)
        if images and not any(im.annotated for im in images):
            rule = (f'{self._rel(self.labels_dir)}/<image path relative to '
                    f'{self._rel(self.images_dir) or "."}>.txt'
                    if self.labels_dir else 'images/... -> labels/....txt, '
                    'or next to the image')
            self.report.warnings.append(
                f'no label file was found for any of the {len(images)} '
                f'images (looked up as {rule}): every image would be '
                'converted as defect-free. Check --images / --labels.')
        return images
