# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""A large synthetic MMIOC annotation dict, for benchmarks at MMIOC-1M scale.

No image is written: only the annotation records, with the hierarchy of the
paper (351 classes in 29 scenes and 14 supercategories by default), a
long-tailed class distribution (Zipf-like, as the paper's Fig. 6), a share of
defect-free images, images that mix classes, and boxes of every COCO scale.
Everything is drawn with numpy from one seed, so the dict is reproducible.

Example::

    >>> from mmioc_rtvp.testing.synthetic_mmioc import make_synthetic_mmioc
    >>> data = make_synthetic_mmioc(num_images=1_000_000,
    ...                             num_boxes=3_000_000)   # 5-15 s
    >>> from mmioc_rtvp.testing.synthetic_mmioc import benchmark_toolkit
    >>> benchmark_toolkit()   # seconds per step of split + statistics
"""
import time
from typing import Dict, List, Optional, Tuple

import numpy as np

from mmioc_rtvp.format.io import gc_paused


def _category_records(num_classes: int, num_scenes: int,
                      num_supercategories: int) -> List[dict]:
    """Categories ``class k`` with ids ``10 * (k + 1)`` (non-contiguous)."""
    cats = []
    for k in range(num_classes):
        scene = k % num_scenes
        name = f'defect {k // num_scenes} on scene {scene}'
        cats.append(
            dict(
                id=10 * (k + 1),
                name=name,
                supercategory=f'supercategory {scene % num_supercategories}',
                scene=f'scene {scene}',
                texts=[name, f'a photo of {name}']))
    return cats


def make_synthetic_mmioc(num_images: int = 1_000_000,
                         num_boxes: int = 3_000_000,
                         num_classes: int = 351,
                         num_scenes: int = 29,
                         num_supercategories: int = 14,
                         defect_free_fraction: float = 0.05,
                         mixed_fraction: float = 0.1,
                         zipf_exponent: float = 1.1,
                         seed: int = 0) -> dict:
    """Generate an MMIOC annotation dict quickly (vectorised with numpy).

    Each non-defect-free image has a main class drawn from a Zipf-like
    distribution over the classes; its boxes are of that class, except a
    ``mixed_fraction`` of boxes whose class is drawn uniformly among the
    classes of the same scene. Boxes are spread uniformly over the
    non-defect-free images (at least one each when ``num_boxes`` allows);
    box sides are log-uniform between 4 pixels and the image side, so small,
    medium and large boxes all occur. The image ``scene`` is the scene of its
    main class.

    Args:
        num_images (int): Number of images ``N``.
        num_boxes (int): Number of boxes ``M``.
        num_classes (int): Number of categories ``K``.
        num_scenes (int): Number of scenes (class ``k`` is in scene
            ``k % num_scenes``).
        num_supercategories (int): Number of supercategories (scene ``s`` is
            in supercategory ``s % num_supercategories``).
        defect_free_fraction (float): Share of images without a box.
        mixed_fraction (float): Share of boxes whose class is redrawn
            among the classes of their image's scene.
        zipf_exponent (float): Class ``r`` (by rank) has weight
            ``(r + 1) ** -zipf_exponent``.
        seed (int): Seed of everything random.

    Returns:
        dict: ``info``, ``images``, ``annotations`` and ``categories`` in the
        MMIOC format (image ids ``1..N``, annotation ids ``1..M``, category
        ids ``10, 20, ...``).
    """
    if num_images < 1 or num_boxes < 0 or num_classes < 1:
        raise ValueError('make_synthetic_mmioc: need num_images >= 1, '
                         'num_boxes >= 0 and num_classes >= 1')
    rng = np.random.default_rng(seed)
    cats = _category_records(num_classes, num_scenes, num_supercategories)
    cat_ids = np.array([c['id'] for c in cats], dtype=np.int64)

    weights = (np.arange(num_classes) + 1.0)**-zipf_exponent
    weights = rng.permutation(weights)  # the long tail is not in id order
    weights /= weights.sum()

    widths = rng.integers(200, 2049, num_images)
    heights = rng.integers(200, 2049, num_images)
    main_label = rng.choice(num_classes, num_images, p=weights)
    num_free = int(round(defect_free_fraction * num_images))
    if num_boxes == 0:
        num_free = num_images
    defect_images = np.sort(
        rng.permutation(num_images)[:num_images - num_free])

    # every defect image gets one box, the rest are spread at random
    first = defect_images[:num_boxes]
    rest = rng.choice(defect_images, num_boxes - len(first)) \
        if num_boxes > len(first) else np.zeros(0, dtype=np.int64)
    box_image = np.sort(np.concatenate([first, rest]))
    box_label = main_label[box_image]
    mixed = rng.random(num_boxes) < mixed_fraction
    # a mixed box is of another class of the same scene
    scene = box_label[mixed] % num_scenes
    classes_in_scene = np.bincount(
        np.arange(num_classes) % num_scenes, minlength=num_scenes)
    draw = np.floor(rng.random(len(scene)) *
                    classes_in_scene[scene]).astype(np.int64)
    box_label[mixed] = scene + num_scenes * draw

    img_w = widths[box_image].astype(np.float64)
    img_h = heights[box_image].astype(np.float64)
    box_w = np.floor(np.exp(rng.uniform(np.log(4), np.log(img_w))))
    box_h = np.floor(np.exp(rng.uniform(np.log(4), np.log(img_h))))
    box_x = np.floor(rng.random(num_boxes) * (img_w - box_w + 1))
    box_y = np.floor(rng.random(num_boxes) * (img_h - box_h + 1))

    scene_of_image = [f'scene {s}' for s in range(num_scenes)]
    image_scene = (main_label % num_scenes).tolist()
    with gc_paused():
        images, annotations = _records(widths, heights, image_scene,
                                       scene_of_image, box_image,
                                       cat_ids[box_label], box_x, box_y,
                                       box_w, box_h)
    return dict(
        info=dict(
            description='synthetic MMIOC annotations (benchmark)',
            version='1.0',
            seed=seed),
        images=images,
        annotations=annotations,
        categories=cats)


def _records(widths: np.ndarray, heights: np.ndarray, image_scene: list,
             scene_names: List[str], box_image: np.ndarray,
             box_cat_id: np.ndarray, box_x: np.ndarray, box_y: np.ndarray,
             box_w: np.ndarray, box_h: np.ndarray) -> Tuple[list, list]:
    """The image and annotation records from the drawn arrays."""
    images = [
        dict(
            id=i + 1,
            file_name=f'scene_{s}/{i + 1:07d}.jpg',
            width=w,
            height=h,
            scene=scene_names[s]) for i, (w, h, s) in enumerate(
                zip(widths.tolist(), heights.tolist(), image_scene))
    ]
    bboxes = np.stack([box_x, box_y, box_w, box_h], axis=1).tolist()
    areas = (box_w * box_h).tolist()
    annotations = [
        dict(
            id=j + 1,
            image_id=i + 1,
            category_id=c,
            bbox=b,
            area=a,
            iscrowd=0) for j, (i, c, b, a) in enumerate(
                zip(box_image.tolist(), box_cat_id.tolist(), bboxes, areas))
    ]
    return images, annotations


def benchmark_toolkit(num_images: int = 1_000_000,
                      num_boxes: int = 3_000_000,
                      out_dir: Optional[str] = None,
                      seed: int = 0) -> Dict[str, float]:
    """Time the split and statistics code on a synthetic dataset.

    Steps: ``generate`` (not part of the budget), ``arrays`` (records ->
    :class:`~mmioc_rtvp.format.io.AnnotationArrays`), ``closed_split``,
    ``open_classes`` (random 64-d class embeddings, threshold 1.0),
    ``build_splits`` (the six annotation dicts), ``statistics``; with
    ``out_dir`` also ``write_splits`` (JSON files) and ``plots``.
    ``total`` sums every step but ``generate``.

    Args:
        num_images (int): Images of the synthetic dataset.
        num_boxes (int): Boxes of the synthetic dataset.
        out_dir (str, optional): Write the splits and plots there too.
        seed (int): Seed.

    Returns:
        dict[str, float]: Seconds per step.
    """
    import os.path as osp

    from mmioc_rtvp.format.io import AnnotationArrays, dump_json
    from mmioc_rtvp.builders.split import (build_splits, closed_split,
                                           select_open_classes)
    from mmioc_rtvp.builders.statistics import (compute_statistics,
                                                plot_statistics)
    timing: Dict[str, float] = {}

    def timed(name, fn, *args, **kwargs):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        timing[name] = round(time.perf_counter() - start, 3)
        return out

    data = timed('generate', make_synthetic_mmioc, num_images, num_boxes,
                 seed=seed)
    arrays = timed('arrays', AnnotationArrays.from_dict, data)
    timed('closed_split', closed_split, arrays, 0.7, seed)
    embeddings = np.random.default_rng(seed).normal(
        size=(arrays.num_categories, 64))
    classes = timed('open_classes', select_open_classes, embeddings, 1.0)
    splits, _ = timed('build_splits', build_splits, data, arrays, 0.7, seed,
                      classes)
    stats = timed('statistics', compute_statistics, arrays)
    if out_dir is not None:

        def write_all():
            for name, split in splits.items():
                dump_json(split, osp.join(out_dir, f'{name}.json'))

        timed('write_splits', write_all)
        timed('plots', plot_statistics, stats, out_dir)
    timing['total'] = round(
        sum(v for k, v in timing.items() if k != 'generate'), 3)
    return timing
