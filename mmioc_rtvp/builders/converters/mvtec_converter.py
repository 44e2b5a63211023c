# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""MVTec-style masks -> MMIOC.

Layout (MVTec AD; ``root`` may also be a single object category)::

    root/<object>/train/good/*.png                     defect-free
    root/<object>/test/good/*.png                      defect-free
    root/<object>/test/<defect>/<stem>.png             defect images
    root/<object>/ground_truth/<defect>/<stem>_mask.png

Every 8-connected component of a defect image's mask becomes a box of
source class ``'<object>/<defect>'`` (e.g. ``'bottle/broken_large'``; the
mapping keys use this form because defect names repeat across objects).
``good`` images are kept as defect-free images; their scene is the
mapping's ``default_scene`` (for the object), else the scene shared by all
``'<object>/...'`` classes. A defect image without a mask, or with an empty
one, is rejected (``missing_annotation``): kept, it would count as
defect-free. A mask without an image has its components rejected
(``missing_image``). Output ``file_name`` is
``<object>/test/<defect>/<stem>.png``.
"""
import os
import os.path as osp
from typing import Any, Dict, List, Tuple

from .base_converter import (BaseConverter, MaskSource, SourceImage,
                             mask_components)
from mmioc_rtvp.format.file_io import relative_to, walk_files
from .image_io import ImageError, is_image_file

GOOD = 'good'


class MVTecConverter(BaseConverter):
    """Convert an MVTec-style dataset (see the module docstring).

    Args:
        root (str): The dataset root, or one object category.
        include_train_good (bool): Also convert ``train/good`` images (as
            defect-free images). Defaults to True.
        mask_suffix (str): Suffix of mask stems. Defaults to ``'_mask'``
            (a mask named exactly like its image is also found).
        **kwargs: :class:`BaseConverter` arguments.

    Raises:
        FileNotFoundError: ``root`` does not exist or holds no category.
    """

    source_format = 'mvtec'

    def __init__(self,
                 root: str,
                 include_train_good: bool = True,
                 mask_suffix: str = '_mask',
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not osp.isdir(root):
            raise FileNotFoundError(f'MVTec root not found: {root}')
        self.root = root
        self.include_train_good = include_train_good
        self.mask_suffix = mask_suffix
        if self._is_category(root):
            self.categories = [(osp.basename(osp.abspath(root)), root)]
            self.base = osp.dirname(osp.abspath(root))
        else:
            self.categories = [(d, osp.join(root, d))
                               for d in sorted(os.listdir(root))
                               if not d.startswith('.')
                               and self._is_category(osp.join(root, d))]
            self.base = root
        # path -> posix path relative to the base (reports, file names)
        self._rel = relative_to(self.base)
        if not self.categories:
            raise FileNotFoundError(
                f'{root}: no MVTec category (a directory with test/ or '
                'train/)')

    @staticmethod
    def _is_category(path: str) -> bool:
        return osp.isdir(osp.join(path, 'test')) or osp.isdir(
            osp.join(path, 'train'))

    def source_info(self) -> Dict[str, Any]:
        return dict(
            root=osp.abspath(self.root),
            categories=[c for c, _ in self.categories],
            include_train_good=self.include_train_good)

    def _image(self, path: str, group: str, **kwargs: Any) -> SourceImage:
        rel = self._rel(path)
        return SourceImage(
            rel_path=rel, abs_path=path, file_name=rel, group=group, **kwargs)

    def scan(self) -> List[SourceImage]:
        result: List[SourceImage] = []
        for category, cat_dir in self.categories:
            splits: List[Tuple[str, str]] = []
            test_dir = osp.join(cat_dir, 'test')
            if osp.isdir(test_dir):
                splits += [(d, osp.join(test_dir, d))
                           for d in sorted(os.listdir(test_dir))
                           if osp.isdir(osp.join(test_dir, d))]
            gt_dir = osp.join(cat_dir, 'ground_truth')
            masks: Dict[str, str] = {
                rel: path
                for path, rel in walk_files(gt_dir) if is_image_file(rel)
            } if osp.isdir(gt_dir) else {}
            # mask stem -> mask files (any image format: KolektorSDD's are
            # .bmp, others .tif); a .png is preferred when there are several
            masks_by_stem: Dict[str, List[str]] = {}
            for mask_rel in sorted(
                    masks, key=lambda r: (not r.lower().endswith('.png'), r)):
                masks_by_stem.setdefault(osp.splitext(mask_rel)[0],
                                         []).append(mask_rel)
            claimed = set()
            for defect, defect_dir in splits:
                for path, rel in walk_files(defect_dir):
                    if not is_image_file(rel):
                        continue
                    if defect == GOOD:
                        result.append(self._image(path, category))
                        continue
                    stem = osp.splitext(rel)[0]
                    label = f'{category}/{defect}'
                    mask_rel = next(
                        (masks_by_stem[c][0]
                         for c in (f'{defect}/{stem}{self.mask_suffix}',
                                   f'{defect}/{stem}') if c in masks_by_stem),
                        None)
                    if mask_rel is None:
                        result.append(
                            self._image(
                                path,
                                category,
                                error=('missing_annotation',
                                       f'no mask for it in {self._rel(gt_dir)}'
                                       f'/{defect}/')))
                        continue
                    claimed.add(mask_rel)
                    mask_path = masks[mask_rel]
                    result.append(
                        self._image(
                            path,
                            category,
                            annotation_file=self._rel(mask_path),
                            masks=[
                                MaskSource(mask_path, self._rel(mask_path),
                                           label)
                            ]))
            train_good = osp.join(cat_dir, 'train', GOOD)
            if self.include_train_good and osp.isdir(train_good):
                for path, rel in walk_files(train_good):
                    if is_image_file(rel):
                        result.append(self._image(path, category))
            for mask_rel in sorted(set(masks) - claimed):
                self._orphan_mask(masks[mask_rel])
        return result

    def _orphan_mask(self, path: str) -> None:
        rel = self._rel(path)
        self.orphan_image(
            rel, 'missing_image', f'mask {rel} has no image', file=rel)
        try:
            _, components = mask_components(path)
        except ImageError as err:
            self.orphan_boxes(
                rel,
                'whole file',
                'malformed_annotation_file',
                err.detail,
                boxes=0,
                estimated=True)
            return
        for k, (x, y, w, h) in enumerate(components):
            self.orphan_boxes(
                rel, f'component {k + 1}', 'missing_image',
                f'mask {rel} has no image (box x={x} y={y} w={w} h={h})')
