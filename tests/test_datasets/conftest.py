# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""A tiny MMIOC-format dataset written into ``tmp_path`` for the tests.

Four categories with non-contiguous ids listed out of id order
(7, 3, 12, 20), four images of which one is defect-free, and one
degenerate box (zero width) that the dataset must skip.
"""
import copy
import json
import os
import os.path as osp
from dataclasses import dataclass
from typing import Callable, Optional

import cv2
import numpy as np
import pytest

CATEGORIES = [
    dict(
        id=7,
        name='crack on brick',
        supercategory='construction',
        scene='brick wall',
        texts=['crack on brick', 'a cracked brick',
               'fissure in a brick wall']),
    dict(
        id=3,
        name='hole in wood',
        supercategory='wood',
        scene='wood plank',
        texts=['hole in wood', 'a wooden board with a hole']),
    dict(
        id=12,
        name='scratch on metal',
        supercategory='metal',
        scene='steel plate',
        texts=['scratch on metal']),
    dict(
        id=20,
        name='stain on fabric',
        supercategory='textile',
        scene='fabric',
        texts=['stain on fabric', 'a stained cloth']),
]
# label of each category id: file order
LABEL_OF = {7: 0, 3: 1, 12: 2, 20: 3}

IMAGES = [
    dict(
        id=1,
        file_name='brick_wall/000001.png',
        width=64,
        height=48,
        scene='brick wall'),
    dict(
        id=2,
        file_name='wood/000002.png',
        width=48,
        height=64,
        scene='wood plank'),
    dict(
        id=5,
        file_name='fabric/000005.png',
        width=64,
        height=64,
        scene='fabric'),
    dict(id=9, file_name='steel/000009.png', width=64, height=48),
]

ANNOTATIONS = [
    dict(
        id=1,
        image_id=1,
        category_id=7,
        bbox=[4, 4, 24, 20],
        area=480.0,
        iscrowd=0),
    dict(
        id=2,
        image_id=1,
        category_id=12,
        bbox=[30, 20, 28, 24],
        area=672.0,
        iscrowd=0),
    dict(
        id=3,
        image_id=2,
        category_id=3,
        bbox=[10, 10, 24, 36],
        area=864.0,
        iscrowd=0),
    dict(
        id=4,
        image_id=9,
        category_id=20,
        bbox=[0, 0, 30, 30],
        area=900.0,
        iscrowd=0),
    dict(
        id=5,
        image_id=9,
        category_id=3,
        bbox=[36, 8, 24, 24],
        area=576.0,
        iscrowd=1),
    # zero width: skipped
    dict(
        id=6,
        image_id=9,
        category_id=7,
        bbox=[5, 5, 0, 10],
        area=0.0,
        iscrowd=0),
]

# a vocabulary file with prompts that differ from the annotation file's
CLASS_TEXTS = [['brick crack'], ['wood hole', 'holes in wood'],
               ['metal scratch'], ['fabric stain']]


@dataclass
class MMIOCPaths:
    """Where a generated tiny dataset lives."""
    root: str
    ann_file: str  # relative to root
    class_text_file: str  # absolute
    content: dict  # the annotation JSON written

    @property
    def ann_path(self) -> str:
        return osp.join(self.root, self.ann_file)


def write_mmioc(root: str,
                categories: Optional[list] = None,
                images: Optional[list] = None,
                annotations: Optional[list] = None,
                class_texts: Optional[list] = None,
                write_images: bool = True) -> MMIOCPaths:
    """Write a tiny MMIOC dataset (images, annotation and class-text JSON).

    Args:
        root (str): Data root to create.
        categories, images, annotations (list, optional): Replace the
            defaults above.
        class_texts (list, optional): Content of the class-text file.
        write_images (bool): Also write the image files.

    Returns:
        MMIOCPaths: The paths and the annotation content.
    """
    content = dict(
        info=dict(description='tiny', version='0', split='closed_train'),
        images=copy.deepcopy(IMAGES if images is None else images),
        annotations=copy.deepcopy(ANNOTATIONS if annotations is
                                  None else annotations),
        categories=copy.deepcopy(CATEGORIES if categories is
                                 None else categories))
    ann_file = 'annotations/train.json'
    text_file = osp.join(root, 'texts', 'tiny_class_texts.json')
    for path in (osp.join(root, ann_file), text_file):
        os.makedirs(osp.dirname(path), exist_ok=True)
    with open(osp.join(root, ann_file), 'w') as f:
        json.dump(content, f)
    with open(text_file, 'w') as f:
        json.dump(CLASS_TEXTS if class_texts is None else class_texts, f)
    rng = np.random.RandomState(0)
    os.makedirs(osp.join(root, 'images'), exist_ok=True)
    if write_images:
        for img in content['images']:
            path = osp.join(root, 'images', img['file_name'])
            os.makedirs(osp.dirname(path), exist_ok=True)
            pixels = rng.randint(0, 256, (img['height'], img['width'], 3))
            cv2.imwrite(path, pixels.astype(np.uint8))
    return MMIOCPaths(root, ann_file, text_file, content)


@pytest.fixture
def make_mmioc(tmp_path) -> Callable[..., MMIOCPaths]:
    """A factory writing a tiny MMIOC dataset under ``tmp_path``; keyword
    arguments are those of :func:`write_mmioc` (``root`` defaults to
    ``tmp_path / 'mmioc'``)."""

    def make(name: str = 'mmioc', **kwargs) -> MMIOCPaths:
        return write_mmioc(str(tmp_path / name), **kwargs)

    return make


@pytest.fixture
def mmioc(make_mmioc) -> MMIOCPaths:
    """The default tiny dataset."""
    return make_mmioc()


@pytest.fixture
def mmioc_defaults() -> dict:
    """Deep copies of the default content: ``categories``, ``images``,
    ``annotations``, ``class_texts`` and ``label_of`` (category id ->
    label)."""
    return copy.deepcopy(
        dict(
            categories=CATEGORIES,
            images=IMAGES,
            annotations=ANNOTATIONS,
            class_texts=CLASS_TEXTS,
            label_of=LABEL_OF))
