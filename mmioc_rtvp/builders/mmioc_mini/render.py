# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""MMIOC-mini's image plans and rendering (one image from its plan)."""
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from .defects import DEFECT_MAKERS
from .materials import (_CLASS_TABLE, MATERIALS, mmioc_mini_classes,
                        sample_texture)

# Difficulty of the default dataset (1.0 and 1.0: the 1.1.0 dataset). With
# 2.0 and 2.0 YOLOv8-S-mini, trained from scratch with the 40-epoch CPU
# schedule, reaches closed-set AP50 0.26 (docs/get_started.md, Measured).
DEFAULT_CONTRAST = 2.0
DEFAULT_DEFECT_SCALE = 2.0
# Accepted ranges of the difficulty knobs (inclusive).
CONTRAST_RANGE = (0.1, 10.0)
DEFECT_SCALE_RANGE = (0.5, 4.0)
DEFECT_FREE_FRACTION = 0.05
# Probabilities of 1, 2, 3 and 4 defect instances in an image.
INSTANCE_PROBS = (0.4, 0.3, 0.2, 0.1)
# Free margin (pixels) kept between the boxes of two instances.
BOX_MARGIN = 3
# Seed-sequence spawn keys of the three random streams.
_PLAN_KEY, _IMAGE_KEY, _SPLIT_KEY = 0, 1, 2


@dataclass
class RenderedImage:
    """An image with defects, its clean texture and the defect masks.

    Args:
        image (np.ndarray): ``(H, W, 3)`` uint8 RGB with the defects.
        clean (np.ndarray): ``(H, W, 3)`` uint8 RGB, the same texture without
            defects; equal to ``image`` outside the masks.
        masks (list[np.ndarray]): One ``(H, W)`` bool mask per instance.
        bboxes (list[list[float]]): COCO ``[x, y, w, h]`` tight around each
            mask.
    """
    image: np.ndarray
    clean: np.ndarray
    masks: List[np.ndarray]
    bboxes: List[List[float]]


def mask_to_bbox(mask: np.ndarray) -> List[float]:
    """Tight COCO ``[x, y, w, h]`` box of a non-empty ``(H, W)`` mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise ValueError('mask_to_bbox: empty mask')
    return [
        float(cols[0]),
        float(rows[0]),
        float(cols[-1] - cols[0] + 1),
        float(rows[-1] - rows[0] + 1)
    ]


def render_image(rng: np.random.Generator,
                 material: str,
                 defect: Optional[str],
                 height: int,
                 width: int,
                 num_instances: int = 1,
                 max_tries: int = 30,
                 contrast: float = 1.0,
                 defect_scale: float = 1.0) -> RenderedImage:
    """Draw ``num_instances`` defects of one type on a texture.

    Instances never share pixels: each box keeps :data:`BOX_MARGIN` pixels
    free around it. An instance that finds no free place in ``max_tries``
    draws is dropped, but the first one always fits when defects are far
    smaller than the image (any ``defect_scale`` up to 2 on 256 px images).

    The knobs consume no random numbers: ``contrast`` leaves every draw as it
    is (only the pixel change is scaled), and the defaults (1.0, 1.0) give
    the 1.1.0 rendering bit for bit.

    Args:
        rng (np.random.Generator): Random stream.
        material (str): A key of :data:`MATERIALS`.
        defect (str, optional): A key of :data:`DEFECTS`; None for a
            defect-free image.
        height (int): Image height.
        width (int): Image width.
        num_instances (int): Requested number of instances.
        max_tries (int): Placement attempts per instance.
        contrast (float): Multiplies the material's ``defect_gain``; the
            product is capped at 1.0 (see :data:`CONTRAST_RANGE`).
        defect_scale (float): Linear size factor of every defect shape (see
            :data:`DEFECT_SCALE_RANGE`).

    Returns:
        RenderedImage: The image, the clean texture, masks and boxes.
    """
    if material not in MATERIALS:
        raise KeyError(f'render_image: unknown material {material!r}')
    if defect is not None and defect not in DEFECT_MAKERS:
        raise KeyError(f'render_image: unknown defect {defect!r}')
    check_difficulty(contrast, defect_scale)
    clean = sample_texture(rng, material, height, width)
    gain = min(1.0, MATERIALS[material].defect_gain * contrast)
    canvas = clean.copy()
    occupied = np.zeros((height, width), bool)
    masks, bboxes = [], []
    for _ in range(num_instances if defect is not None else 0):
        for _ in range(max_tries):
            stamp = DEFECT_MAKERS[defect](rng, defect_scale).cropped()
            h, w = stamp.alpha.shape
            if h == 0 or h > height or w > width:
                continue
            y0 = int(rng.integers(0, height - h + 1))
            x0 = int(rng.integers(0, width - w + 1))
            ys = slice(max(y0 - BOX_MARGIN, 0), y0 + h + BOX_MARGIN)
            xs = slice(max(x0 - BOX_MARGIN, 0), x0 + w + BOX_MARGIN)
            if occupied[ys, xs].any():
                continue
            sl = (slice(y0, y0 + h), slice(x0, x0 + w))
            patch = canvas[sl]
            alpha = stamp.alpha[..., None]
            target = stamp.shade(patch, stamp.fields)
            inside = stamp.alpha > 0
            blended = patch + gain * alpha * (target - patch)
            patch[inside] = blended[inside]
            occupied[sl] = True
            mask = np.zeros((height, width), bool)
            mask[sl] = inside
            masks.append(mask)
            bboxes.append([float(x0), float(y0), float(w), float(h)])
            break
    to_u8 = lambda x: np.clip(np.round(x), 0, 255).astype(np.uint8)  # noqa
    return RenderedImage(to_u8(canvas), to_u8(clean), masks, bboxes)


@dataclass(frozen=True)
class ImagePlan:
    """What the generator draws for one image.

    Args:
        index (int): Position in the dataset (image id - 1).
        class_id (int, optional): Class of every defect; None if
            defect-free.
        material (str): Material of the texture.
        height (int): Image height.
        width (int): Image width.
        num_instances (int): Requested number of instances (0 if
            defect-free).
    """
    index: int
    class_id: Optional[int]
    material: str
    height: int
    width: int
    num_instances: int

    @property
    def image_id(self) -> int:
        return self.index + 1


def _rng(seed: int, *key: int) -> np.random.Generator:
    """An independent stream of a seed (``SeedSequence`` spawn key)."""
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def check_difficulty(contrast: float, defect_scale: float) -> None:
    """Raise ValueError (one line) on difficulty knobs out of range."""
    for name, value, (lo, hi) in (('contrast', contrast, CONTRAST_RANGE),
                                  ('defect_scale', defect_scale,
                                   DEFECT_SCALE_RANGE)):
        if (isinstance(value, bool)
                or not isinstance(value, (int, float, np.integer,
                                          np.floating))
                or not lo <= float(value) <= hi):
            raise ValueError(f'MMIOC-mini: {name} must be a number in '
                             f'[{lo:g}, {hi:g}], got {value!r}')


def check_params(num_images: int,
                 min_size: int,
                 max_size: int,
                 closed_ratio: float,
                 seed: int,
                 contrast: float = DEFAULT_CONTRAST,
                 defect_scale: float = DEFAULT_DEFECT_SCALE) -> None:
    """Raise ValueError (one line) on bad generator parameters."""
    min_images = 2 * len(_CLASS_TABLE) + 2
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f'MMIOC-mini: seed must be an int >= 0, got {seed!r}')
    if num_images < min_images:
        raise ValueError(f'MMIOC-mini: num_images must be >= {min_images} '
                         f'(2 per class + defect-free), got {num_images}')
    if min_size < 128 or max_size < min_size:
        raise ValueError('MMIOC-mini: need 128 <= min_size <= max_size, got '
                         f'min_size={min_size}, max_size={max_size}')
    if not 0 < closed_ratio < 1:
        raise ValueError('MMIOC-mini: closed_ratio must be in (0, 1), got '
                         f'{closed_ratio}')
    check_difficulty(contrast, defect_scale)


def plan_mmioc_mini(seed: int, num_images: int, min_size: int,
                    max_size: int) -> List[ImagePlan]:
    """Plan every image of a dataset.

    Defect images are spread evenly over the classes (counts differ by at most
    one); :data:`DEFECT_FREE_FRACTION` of the images are defect-free on a
    random material.

    Args:
        seed (int): Dataset seed.
        num_images (int): Number of images.
        min_size (int): Smallest image side.
        max_size (int): Largest image side.

    Returns:
        list[ImagePlan]: One plan per image, in image-id order.
    """
    rng = _rng(seed, _PLAN_KEY)
    classes = {c.id: c for c in mmioc_mini_classes()}
    ids = sorted(classes)
    num_free = max(1, int(np.floor(num_images * DEFECT_FREE_FRACTION + 0.5)))
    num_defect = num_images - num_free
    labels: List[Optional[int]] = []
    while len(labels) < num_defect:
        labels.extend(int(i) for i in rng.permutation(ids))
    labels = labels[:num_defect] + [None] * num_free
    order = rng.permutation(num_images)
    materials = sorted(MATERIALS)
    plans = []
    for index in range(num_images):
        label = labels[order[index]]
        height, width = (
            int(x) for x in rng.integers(min_size, max_size + 1, 2))
        count = int(rng.choice(len(INSTANCE_PROBS), p=INSTANCE_PROBS)) + 1
        if label is None:
            material = materials[rng.integers(len(materials))]
            count = 0
        else:
            material = classes[label].material
        plans.append(ImagePlan(index, label, material, height, width, count))
    return plans


def render_planned_image(
        seed: int,
        plan: ImagePlan,
        contrast: float = DEFAULT_CONTRAST,
        defect_scale: float = DEFAULT_DEFECT_SCALE) -> RenderedImage:
    """Render the image a plan describes (what the generator writes with
    these difficulty knobs; see :func:`render_image`)."""
    classes = {c.id: c for c in mmioc_mini_classes()}
    defect = None if plan.class_id is None else classes[plan.class_id].defect
    return render_image(
        _rng(seed, _IMAGE_KEY, plan.index),
        plan.material,
        defect,
        plan.height,
        plan.width,
        plan.num_instances,
        contrast=contrast,
        defect_scale=defect_scale)
