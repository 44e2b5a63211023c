# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""MMIOC-mini's splits and files: :func:`generate_mmioc_mini`."""
import json
import os
import os.path as osp
import shutil
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

from mmioc_rtvp.format.splits import SPLIT_NAMES, SPLIT_VOCABULARY, TEXT_FILES
from .materials import MATERIALS, mmioc_mini_classes, scene_slug
from .render import (_SPLIT_KEY, DEFAULT_CONTRAST, DEFAULT_DEFECT_SCALE,
                     ImagePlan, _rng, check_params, plan_mmioc_mini,
                     render_planned_image)

GENERATOR_VERSION = '1.2.0'
JPEG_QUALITY = 90


# ---------------------------------------------------------------------------
# Splits and files
# ---------------------------------------------------------------------------
def split_closed(plans: Sequence[ImagePlan], seed: int,
                 ratio: float) -> Tuple[List[int], List[int]]:
    """Per-class stratified image-level train/val split.

    Each class (and the group of defect-free images) puts
    ``floor(ratio * n + 0.5)`` of its ``n`` images in train, clipped to
    ``[1, n - 1]`` when ``n >= 2``.

    Returns:
        tuple[list[int], list[int]]: Sorted train and val image indices.
    """
    rng = _rng(seed, _SPLIT_KEY)
    groups: Dict[int, List[int]] = {}
    for plan in plans:
        groups.setdefault(plan.class_id or 0, []).append(plan.index)
    train, val = [], []
    for key in sorted(groups):
        members = [groups[key][i] for i in rng.permutation(len(groups[key]))]
        n = len(members)
        n_train = int(np.floor(ratio * n + 0.5))
        if n >= 2:
            n_train = min(max(n_train, 1), n - 1)
        train += members[:n_train]
        val += members[n_train:]
    return sorted(train), sorted(val)


def _coco_dict(split: str, seed: int, image_indices: Sequence[int],
               images: List[dict], anns: List[List[dict]],
               categories: List[dict]) -> dict:
    cat_ids = {c['id'] for c in categories}
    out_images, out_anns = [], []
    for index in image_indices:
        for ann in anns[index]:
            if ann['category_id'] not in cat_ids:
                raise RuntimeError(f'MMIOC-mini {split}: image {index + 1} '
                                   'has a category outside the split')
            out_anns.append(ann)
        out_images.append(images[index])
    return dict(
        info=dict(
            description='MMIOC-mini: synthetic defects drawn on '
            'scikit-image sample textures',
            version=GENERATOR_VERSION,
            split=split,
            seed=seed),
        images=out_images,
        annotations=out_anns,
        categories=categories)


def _write_json(path: str, obj) -> None:
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(obj, f, indent=2)
        f.write('\n')


def _params(seed: int, num_images: int, min_size: int, max_size: int,
            closed_ratio: float, contrast: float,
            defect_scale: float) -> dict:
    return dict(
        seed=int(seed),
        num_images=int(num_images),
        min_size=int(min_size),
        max_size=int(max_size),
        closed_ratio=float(closed_ratio),
        contrast=float(contrast),
        defect_scale=float(defect_scale),
        jpeg_quality=JPEG_QUALITY)


def expected_files() -> List[str]:
    """Files (relative to the output dir) every generated dataset has."""
    return (['meta.json'] + [f'annotations/{s}.json' for s in SPLIT_NAMES] +
            [f'texts/{t}' for t in TEXT_FILES.values()])


def is_up_to_date(out_dir: str,
                  seed: int,
                  num_images: int,
                  min_size: int,
                  max_size: int,
                  closed_ratio: float,
                  contrast: float = DEFAULT_CONTRAST,
                  defect_scale: float = DEFAULT_DEFECT_SCALE) -> bool:
    """Whether ``out_dir`` holds a complete dataset made with these
    parameters by this generator version."""
    meta_path = osp.join(out_dir, 'meta.json')
    try:
        with open(meta_path, encoding='utf-8') as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return False
    if (meta.get('generator_version') != GENERATOR_VERSION
            or meta.get('params') != _params(
                seed, num_images, min_size, max_size, closed_ratio, contrast,
                defect_scale)):
        return False
    if not all(osp.isfile(osp.join(out_dir, p)) for p in expected_files()):
        return False
    num_jpg = sum(
        name.endswith('.jpg')
        for _, _, names in os.walk(osp.join(out_dir, 'images'))
        for name in names)
    return num_jpg == num_images


def _write_dataset(out_dir: str, seed: int, plans: Sequence[ImagePlan],
                   closed_ratio: float, params: dict, contrast: float,
                   defect_scale: float, progress: bool) -> dict:
    classes = mmioc_mini_classes()
    by_id = {c.id: c for c in classes}
    os.makedirs(osp.join(out_dir, 'annotations'))
    os.makedirs(osp.join(out_dir, 'texts'))
    for spec in MATERIALS.values():
        os.makedirs(osp.join(out_dir, 'images', scene_slug(spec.scene)))

    iterator = plans
    if progress:
        from tqdm import tqdm
        iterator = tqdm(plans, desc='MMIOC-mini', unit='img', leave=False)
    images, anns, ann_id = [], [], 0
    for plan in iterator:
        rendered = render_planned_image(seed, plan, contrast, defect_scale)
        scene = MATERIALS[plan.material].scene
        file_name = f'{scene_slug(scene)}/{plan.image_id:06d}.jpg'
        ok, buf = cv2.imencode('.jpg',
                               cv2.cvtColor(rendered.image, cv2.COLOR_RGB2BGR),
                               [int(cv2.IMWRITE_JPEG_QUALITY), JPEG_QUALITY])
        if not ok:
            raise RuntimeError(f'MMIOC-mini: JPEG encoding failed for '
                               f'{file_name}')
        with open(osp.join(out_dir, 'images', file_name), 'wb') as f:
            f.write(buf.tobytes())
        images.append(
            dict(
                id=plan.image_id,
                file_name=file_name,
                width=plan.width,
                height=plan.height,
                scene=scene))
        image_anns = []
        for bbox in rendered.bboxes:
            ann_id += 1
            image_anns.append(
                dict(
                    id=ann_id,
                    image_id=plan.image_id,
                    category_id=plan.class_id,
                    bbox=bbox,
                    area=bbox[2] * bbox[3],
                    iscrowd=0))
        anns.append(image_anns)

    closed_train, closed_val = split_closed(plans, seed, closed_ratio)
    seen_ids = {c.id for c in classes if c.seen}
    unseen_ids = {c.id for c in classes if not c.seen}

    def has_seen_or_none(i: int) -> bool:
        return plans[i].class_id is None or plans[i].class_id in seen_ids

    open_train = [i for i in closed_train if has_seen_or_none(i)]
    open_val = [
        i for i in range(len(plans)) if plans[i].class_id in unseen_ids
    ]
    # held-out images of the seen classes: validation of the seen-class
    # (expert) pre-training
    val_seen = [i for i in closed_val if has_seen_or_none(i)]
    generalized = sorted(open_val + val_seen)
    vocab = {
        'closed': [c for c in classes],
        'seen': [c for c in classes if c.seen],
        'unseen': [c for c in classes if not c.seen],
        'generalized': [c for c in classes],
    }
    members = {
        'closed_train': closed_train,
        'closed_val': closed_val,
        'open_train': open_train,
        'open_val': open_val,
        'open_val_seen': val_seen,
        'open_val_generalized': generalized,
    }
    split_meta = {}
    for split in SPLIT_NAMES:
        vocabulary = SPLIT_VOCABULARY[split]
        categories = [c.to_category() for c in vocab[vocabulary]]
        coco = _coco_dict(split, seed, members[split], images, anns,
                          categories)
        _write_json(osp.join(out_dir, 'annotations', f'{split}.json'), coco)
        split_meta[split] = dict(
            annotation_file=f'annotations/{split}.json',
            class_text_file=f'texts/{TEXT_FILES[vocabulary]}',
            categories=len(categories),
            images=len(coco['images']),
            defect_free_images=sum(plans[i].class_id is None
                                   for i in members[split]),
            annotations=len(coco['annotations']))
    for vocabulary, file_name in TEXT_FILES.items():
        _write_json(
            osp.join(out_dir, 'texts', file_name),
            [list(c.texts) for c in vocab[vocabulary]])

    per_class = {c.name: dict(images=0, instances=0) for c in classes}
    for plan, image_anns in zip(plans, anns):
        if plan.class_id is not None:
            per_class[by_id[plan.class_id].name]['images'] += 1
            per_class[by_id[plan.class_id].name]['instances'] += len(
                image_anns)
    meta = dict(
        name='MMIOC-mini',
        generator_version=GENERATOR_VERSION,
        params=params,
        textures={
            m: [f'skimage.data.{s}' for s in spec.sources]
            for m, spec in MATERIALS.items()
        },
        classes=[
            dict(
                id=c.id,
                name=c.name,
                defect=c.defect,
                material=c.material,
                supercategory=c.supercategory,
                scene=c.scene,
                seen=c.seen) for c in classes
        ],
        num_images=len(plans),
        num_defect_free_images=sum(p.class_id is None for p in plans),
        num_instances=sum(len(a) for a in anns),
        per_class=per_class,
        splits=split_meta)
    # Written last: a directory with meta.json is complete.
    _write_json(osp.join(out_dir, 'meta.json'), meta)
    return meta


def generate_mmioc_mini(out_dir: str = 'data/mmioc_mini',
                        seed: int = 0,
                        num_images: int = 480,
                        min_size: int = 256,
                        max_size: int = 320,
                        closed_ratio: float = 0.7,
                        contrast: float = DEFAULT_CONTRAST,
                        defect_scale: float = DEFAULT_DEFECT_SCALE,
                        force: bool = False,
                        progress: bool = False) -> Tuple[dict, bool]:
    """Generate MMIOC-mini into ``out_dir`` unless it is up to date.

    The dataset is written to ``<out_dir>.partial`` and moved into place when
    complete. An existing ``out_dir`` is replaced only if it is an MMIOC-mini
    dataset (has ``meta.json``) or empty; anything else is refused.

    Args:
        out_dir (str): Output directory.
        seed (int): Seed of everything random.
        num_images (int): Number of images.
        min_size (int): Smallest image side (pixels).
        max_size (int): Largest image side (pixels).
        closed_ratio (float): Train share of each class in the closed split.
        contrast (float): Multiplies every material's ``defect_gain`` (the
            product is capped at 1.0). 1.0 with ``defect_scale=1.0``
            reproduces the 1.1.0 dataset.
        defect_scale (float): Linear size factor of every defect shape.
        force (bool): Regenerate even if up to date.
        progress (bool): Show a tqdm progress bar.

    Returns:
        tuple[dict, bool]: The dataset's meta (``meta.json``) and whether it
        was generated (False: an up-to-date copy was kept).
    """
    check_params(num_images, min_size, max_size, closed_ratio, seed,
                 contrast, defect_scale)
    out_dir = osp.normpath(out_dir)
    if not force and is_up_to_date(out_dir, seed, num_images, min_size,
                                   max_size, closed_ratio, contrast,
                                   defect_scale):
        with open(osp.join(out_dir, 'meta.json'), encoding='utf-8') as f:
            return json.load(f), False
    if osp.exists(out_dir) and not (
            osp.isfile(osp.join(out_dir, 'meta.json')) or
        (osp.isdir(out_dir) and not os.listdir(out_dir))):
        raise FileExistsError(
            f'MMIOC-mini: {out_dir} exists and is not an MMIOC-mini dataset '
            '(no meta.json); refusing to overwrite it')
    params = _params(seed, num_images, min_size, max_size, closed_ratio,
                     contrast, defect_scale)
    plans = plan_mmioc_mini(seed, num_images, min_size, max_size)
    tmp_dir = out_dir + '.partial'
    if osp.exists(tmp_dir):
        shutil.rmtree(tmp_dir)
    try:
        meta = _write_dataset(tmp_dir, seed, plans, closed_ratio, params,
                              contrast, defect_scale, progress)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    if osp.exists(out_dir):
        shutil.rmtree(out_dir)
    os.replace(tmp_dir, out_dir)
    return meta, True


def format_summary(meta: dict) -> str:
    """A short human-readable summary of a dataset's ``meta.json``."""
    classes = meta['classes']
    seen = [c['name'] for c in classes if c['seen']]
    unseen = [c['name'] for c in classes if not c['seen']]
    params = meta['params']
    knobs = ''
    if 'contrast' in params:
        knobs = (f", contrast {params['contrast']:g}, defect scale "
                 f"{params['defect_scale']:g}")
    lines = [
        f"MMIOC-mini v{meta['generator_version']} (seed "
        f"{params['seed']}{knobs}): {meta['num_images']} images "
        f"({meta['num_defect_free_images']} defect-free), "
        f"{meta['num_instances']} instances, {len(classes)} classes in "
        f"{len({c['supercategory'] for c in classes})} supercategories / "
        f"{len({c['scene'] for c in classes})} scenes",
        f'  seen ({len(seen)}): ' + ', '.join(seen),
        f'  unseen ({len(unseen)}): ' + ', '.join(unseen),
    ]
    for split, info in meta['splits'].items():
        lines.append(f"  {split:<21} {info['images']:>4} images "
                     f"({info['defect_free_images']} defect-free), "
                     f"{info['annotations']:>4} boxes, "
                     f"{info['categories']} categories")
    return '\n'.join(lines)
