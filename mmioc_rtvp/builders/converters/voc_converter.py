# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Pascal VOC xml -> MMIOC.

Layout: ``root/Annotations/**/*.xml`` and ``root/JPEGImages/**`` (both
overridable). The image of an xml file is ``<filename>`` looked up in the
image directory (next to the xml's relative sub-directory first), else an
image with the xml's stem. Each ``<object>`` gives a box from ``<name>`` and
``<bndbox>``; VOC coordinates are 1-based inclusive pixel indices, so by
default ``x = xmin - 1, w = xmax - xmin + 1`` (``one_based=False`` reads them
as 0-based pixel edges: ``x = xmin, w = xmax - xmin``). ``<size>`` is
only compared with the real image size. Images without an xml file are
defect-free images. Output ``file_name`` is the image path relative to the
image directory.

``recursive=True`` (``voc2mmioc.py --recursive``) converts every VOC set
below the root, i.e. every folder holding both ``Annotations/`` and
``JPEGImages/`` (e.g. ``root/line1/Annotations``, ``root/line2/...``); a
``file_name`` is then prefixed with the set's folder (``line1/x.jpg``).
"""
import os
import os.path as osp
import xml.etree.ElementTree as ET
from typing import Any, Dict, List, Optional, Tuple

from .base_converter import BaseConverter, SourceBox, SourceImage, parse_finite
from mmioc_rtvp.format.file_io import relative_to, walk_files
from .image_io import IMAGE_EXTENSIONS, is_image_file


def _int_or_none(text: Optional[str]) -> Optional[int]:
    try:
        value = int(float(text))
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None


class VOCConverter(BaseConverter):
    """Convert a Pascal VOC xml dataset (see the module docstring).

    Args:
        root (str): Dataset root.
        ann_dir (str, optional): xml directory. Defaults to
            ``root/Annotations``.
        img_dir (str, optional): Image directory. Defaults to
            ``root/JPEGImages``.
        one_based (bool): VOC's 1-based inclusive coordinates. Defaults to
            True.
        recursive (bool): Convert every ``Annotations/`` + ``JPEGImages/``
            pair below ``root`` (then ``ann_dir`` / ``img_dir`` must not be
            given). Defaults to False.
        **kwargs: :class:`BaseConverter` arguments.

    Raises:
        FileNotFoundError: A directory does not exist.
    """

    source_format = 'voc'

    def __init__(self,
                 root: str,
                 ann_dir: Optional[str] = None,
                 img_dir: Optional[str] = None,
                 one_based: bool = True,
                 recursive: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.root = root
        # path -> posix path relative to the root (reports, file names)
        self._rel = relative_to(root)
        if not osp.isdir(root):
            raise FileNotFoundError(f'VOC directory not found: {root}')
        self.recursive = recursive
        if recursive:
            if ann_dir or img_dir:
                raise ValueError('recursive: the Annotations/JPEGImages '
                                 'pairs are found below the root; do not '
                                 'give ann_dir or img_dir')
            # (xml dir, image dir, file_name prefix) of every VOC set
            self.sets = [(osp.join(d, 'Annotations'), osp.join(
                d, 'JPEGImages'), self._rel(d) if d != root else '')
                         for d in self._find_sets(root)]
            if not self.sets:
                raise FileNotFoundError(
                    f'no folder below {root} holds both Annotations/ and '
                    'JPEGImages/')
            self.ann_dir, self.img_dir = self.sets[0][:2]
        else:
            self.ann_dir = ann_dir or osp.join(root, 'Annotations')
            self.img_dir = img_dir or osp.join(root, 'JPEGImages')
            for d in (self.ann_dir, self.img_dir):
                if not osp.isdir(d):
                    raise FileNotFoundError(
                        f'VOC directory not found: {d}' +
                        ('' if osp.isdir(osp.join(root, 'Annotations')) else
                         ' (sets in sub-folders: use --recursive)'))
            self.sets = [(self.ann_dir, self.img_dir, '')]
        self.one_based = one_based

    @staticmethod
    def _find_sets(root: str) -> List[str]:
        """Folders below ``root`` (itself included) with both
        ``Annotations/`` and ``JPEGImages/``, sorted."""
        found = []
        for dirpath, dirnames, _ in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith('.'))
            if 'Annotations' in dirnames and 'JPEGImages' in dirnames:
                found.append(dirpath)
                # a set's own folders are not searched for further sets
                dirnames[:] = [
                    d for d in dirnames
                    if d not in ('Annotations', 'JPEGImages')
                ]
        return found

    def source_info(self) -> Dict[str, Any]:
        return dict(
            root=osp.abspath(self.root),
            ann_dir=osp.abspath(self.ann_dir),
            img_dir=osp.abspath(self.img_dir),
            sets=[self._rel(a)[:-len('/Annotations')] or '.'
                  for a, _, _ in self.sets] if self.recursive else None,
            one_based=self.one_based)

    def _find_image(self, xml_rel: str, filename: Optional[str],
                    images: Dict[str, str]) -> str:
        """Image path (relative to img_dir) of an xml file; may not exist."""
        sub = osp.dirname(xml_rel)
        stem = osp.splitext(osp.basename(xml_rel))[0]
        candidates = []
        if filename:
            filename = filename.strip().replace('\\', '/')
            candidates += [
                osp.join(sub, filename).replace(osp.sep, '/'), filename
            ]
            if not osp.splitext(filename)[1]:
                candidates += [
                    osp.join(sub, filename + ext).replace(osp.sep, '/')
                    for ext in IMAGE_EXTENSIONS
                ]
        candidates += [
            osp.join(sub, stem + ext).replace(osp.sep, '/')
            for ext in IMAGE_EXTENSIONS
        ]
        for c in candidates:
            c = osp.normpath(c).replace(osp.sep, '/')
            if c in images:
                return c
            upper = osp.splitext(c)[0] + osp.splitext(c)[1].upper()
            if upper in images:
                return upper
        return osp.normpath(candidates[0]).replace(osp.sep, '/')

    def _parse_xml(
        self, path: str, rel: str
    ) -> Tuple[Optional[ET.Element], List[SourceBox], Optional[int], str]:
        """``(root element, boxes, None, '')`` or, for an unparsable file,
        ``(None, [], estimated boxes, detail)``."""
        with open(path, 'rb') as f:
            raw = f.read()
        try:
            tree = ET.fromstring(raw)
        except ET.ParseError as err:
            return None, [], raw.count(b'<object'), f'XML error: {err}'
        boxes = []
        for k, obj in enumerate(tree.findall('object')):
            record = f'object {k + 1}'
            name = (obj.findtext('name') or '').strip()
            if not name:
                boxes.append(
                    SourceBox(
                        rel,
                        record,
                        error=('malformed_record', 'object without <name>')))
                continue
            bndbox = obj.find('bndbox')
            if bndbox is None:
                boxes.append(
                    SourceBox(
                        rel,
                        record,
                        name,
                        error=('malformed_record',
                               f"object '{name}' without <bndbox>")))
                continue
            texts = [
                bndbox.findtext(key)
                for key in ('xmin', 'ymin', 'xmax', 'ymax')
            ]
            if any(t is None for t in texts):
                boxes.append(
                    SourceBox(
                        rel,
                        record,
                        name,
                        error=('malformed_record',
                               f"object '{name}': <bndbox> lacks xmin, "
                               'ymin, xmax or ymax')))
                continue
            numbers, error = parse_finite([t.strip() for t in texts])
            if error is not None:
                boxes.append(SourceBox(rel, record, name, error=error))
                continue
            x1, y1, x2, y2 = numbers
            if self.one_based:
                x1, y1 = x1 - 1, y1 - 1
            boxes.append(SourceBox(rel, record, name, (x1, y1, x2, y2)))
        return tree, boxes, None, ''

    def scan(self) -> List[SourceImage]:
        result = []
        for ann_dir, img_dir, prefix in self.sets:
            self.ann_dir, self.img_dir = ann_dir, img_dir
            for im in self._scan_set():
                if prefix:
                    im.file_name = f'{prefix}/{im.file_name}'
                result.append(im)
        return result

    def _scan_set(self) -> List[SourceImage]:
        """The images of one VOC set (``self.ann_dir``, ``self.img_dir``)."""
        images = {
            rel: path
            for path, rel in walk_files(self.img_dir) if is_image_file(rel)
        }
        claims: Dict[str, List[Tuple[str, List[SourceBox], Optional[tuple],
                                     Optional[tuple]]]] = {}
        for path, xml_rel in walk_files(self.ann_dir):
            if not xml_rel.lower().endswith('.xml'):
                continue
            rel = self._rel(path)
            tree, boxes, unparsed, detail = self._parse_xml(path, rel)
            filename = tree.findtext('filename') if tree is not None else None
            image_rel = self._find_image(xml_rel, filename, images)
            error = None
            size = None
            if tree is not None:
                size = (_int_or_none(tree.findtext('size/width')),
                        _int_or_none(tree.findtext('size/height')))
                size = size if None not in size else None
            else:
                exists = image_rel in images
                self.orphan_boxes(
                    rel,
                    'whole file',
                    'malformed_annotation_file',
                    detail,
                    boxes=unparsed,
                    estimated=True,
                    image=self._rel(osp.join(self.img_dir, image_rel))
                    if exists else None)
                error = ('malformed_annotation_file', f'{rel}: {detail}')
            claims.setdefault(image_rel, []).append((rel, boxes, size, error))
        result = []
        for image_rel in sorted(set(images) | set(claims)):
            path = images.get(image_rel, osp.join(self.img_dir, image_rel))
            entries = claims.get(image_rel, [])
            boxes = [b for entry in entries for b in entry[1]]
            error = next((e[3] for e in entries if e[3] is not None), None)
            if len(entries) > 1:
                error = ('duplicate_id', f'{len(entries)} xml files describe '
                         f"this image: {', '.join(e[0] for e in entries)}")
            result.append(
                SourceImage(
                    rel_path=self._rel(path),
                    abs_path=path,
                    file_name=image_rel,
                    boxes=boxes,
                    annotation_file=entries[0][0] if entries else None,
                    annotated=bool(entries),
                    annotated_size=entries[0][2] if entries else None,
                    error=error))
        return result
