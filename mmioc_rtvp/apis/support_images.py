# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Labelled support images as a model input batch (few-shot prompts).

A support set is k images with boxes in their original pixels and labels
indexing a vocabulary. :func:`support_batch` runs the images through the
model's test pipeline (the resizing and padding of inference), maps the
boxes into the input pixels with the same transforms, and applies the
model's data preprocessor. :func:`read_coco_support` reads a support set
from a COCO-style annotation file.
"""
import json
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.dataset import Compose
from torch import Tensor

from .image_pipeline import build_array_pipeline
from .inference_inputs import read_image

#: Boxes may stick out of their image by this many pixels (rounding of
#: annotation tools); they are clipped. Farther out is an error.
BOX_TOLERANCE = 1.0
ImageLike = Union[str, np.ndarray]


@dataclass
class SupportBatch:
    """k support images as the detector sees them.

    Attributes:
        inputs (Tensor): (k, 3, H, W) preprocessed images.
        bboxes_labels (Tensor): (N, 6) ``[image, label, x1, y1, x2, y2]``,
            boxes in input pixels (the training collate's format).
        img_metas (list[dict]): k metainfo dicts of the packed samples.
        data_samples (list): The k packed data samples (for prediction).
    """
    inputs: Tensor
    bboxes_labels: Tensor
    img_metas: List[dict]
    data_samples: list = field(repr=False)

    def boxes_of(self, label: int) -> List[Tensor]:
        """Per image, the (n_b, 4) input-pixel boxes of one label."""
        rows = self.bboxes_labels[self.bboxes_labels[:, 1] == label]
        return [
            rows[rows[:, 0] == i, 2:6] for i in range(self.inputs.shape[0])
        ]


def support_pipeline(cfg: Config) -> Compose:
    """The config's test pipeline, reading arrays and mapping boxes.

    The test pipeline loads annotations after resizing (evaluation wants
    original pixels); here the boxes must follow the image, so the
    annotation step comes first, right after the image is loaded. Text
    loading is dropped (and the ``texts`` meta key), the image is read from
    an array.

    Args:
        cfg (Config): A config with ``test_dataloader``.

    Returns:
        Compose: Reads ``dict(img=BGR array, img_id=int, img_path=str,
        instances=[dict(bbox=[x1, y1, x2, y2], bbox_label=int,
        ignore_flag=0)])``.
    """
    return build_array_pipeline(cfg, ('texts', ), with_boxes=True)


def _checked_boxes(boxes: np.ndarray, shape: Sequence[int],
                   name: str) -> np.ndarray:
    """(n, 4) xyxy boxes inside an (H, W) image, clipped; else an error."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    height, width = shape[:2]
    for j, (x1, y1, x2, y2) in enumerate(boxes.tolist()):
        if not np.isfinite([x1, y1, x2, y2]).all() or x2 <= x1 or y2 <= y1:
            raise ValueError(f'{name}: box {j} [{x1:g}, {y1:g}, {x2:g}, '
                             f'{y2:g}] has zero area or is not xyxy')
        tol = BOX_TOLERANCE
        if (x1 < -tol or y1 < -tol or x2 > width + tol
                or y2 > height + tol):
            raise ValueError(f'{name}: box {j} [{x1:g}, {y1:g}, {x2:g}, '
                             f'{y2:g}] lies outside the {width}x{height} '
                             'image')
    return np.clip(boxes, 0, [width, height, width, height])


def support_batch(model: nn.Module,
                  images: Sequence[ImageLike],
                  boxes: Sequence[np.ndarray],
                  labels: Sequence[np.ndarray],
                  pipeline: Optional[Compose] = None) -> SupportBatch:
    """Run labelled images through the model's test pipeline.

    Args:
        model (nn.Module): The detector (its ``data_preprocessor`` and,
            unless ``pipeline`` is given, its ``cfg``).
        images (Sequence[str or np.ndarray]): k image paths or (H, W, 3)
            BGR uint8 arrays.
        boxes (Sequence[np.ndarray]): k arrays (n_b, 4) of xyxy boxes in
            original pixels (n_b may be 0: a negative image).
        labels (Sequence[np.ndarray]): k arrays (n_b,) of labels.
        pipeline (Compose, optional): Defaults to
            ``support_pipeline(model.cfg)``.

    Returns:
        SupportBatch: The preprocessed batch, boxes in input pixels.
    """
    if not len(images) == len(boxes) == len(labels):
        raise ValueError(f'support set: {len(images)} images, {len(boxes)} '
                         f'box arrays and {len(labels)} label arrays')
    if not images:
        raise ValueError('support set: no image')
    if pipeline is None:
        if getattr(model, 'cfg', None) is None:
            raise ValueError('support_batch: give `pipeline` (the model has '
                             'no cfg attached)')
        pipeline = support_pipeline(model.cfg)
    packed = []
    for i, (image, box, label) in enumerate(zip(images, boxes, labels)):
        name = image if isinstance(image, str) else f'support image {i}'
        if isinstance(image, str):
            try:
                image = read_image(image)
            except OSError as err:
                raise ValueError(f'{name}: cannot be read ({err})') from None
        box = _checked_boxes(box, image.shape, name)
        label = np.asarray(label, dtype=np.int64).reshape(-1)
        if len(label) != len(box):
            raise ValueError(f'{name}: {len(box)} boxes but {len(label)} '
                             'labels')
        instances = [
            dict(bbox=b.tolist(), bbox_label=int(lab), ignore_flag=0)
            for b, lab in zip(box, label)
        ]
        packed.append(
            pipeline(
                dict(img=image, img_id=i, img_path=name,
                     instances=instances)))
    data = model.data_preprocessor(
        dict(
            inputs=[p['inputs'] for p in packed],
            data_samples=[p['data_samples'] for p in packed]), False)
    samples = data['data_samples']
    rows = []
    for i, sample in enumerate(samples):
        gt = sample.gt_instances
        bboxes = getattr(gt.bboxes, 'tensor', gt.bboxes)  # mmdet box types
        rows.append(
            torch.cat([
                torch.full((len(gt), 1), float(i)),
                gt.labels.float().cpu()[:, None],
                bboxes.float().cpu().reshape(-1, 4)
            ], dim=1))
    device = data['inputs'].device
    return SupportBatch(data['inputs'],
                        torch.cat(rows).to(device),
                        [s.metainfo for s in samples], samples)


def read_coco_support(ann_file: str,
                      vocabulary: Sequence[str],
                      img_dir: Optional[str] = None) -> Dict[str, list]:
    """Read a support set from a COCO-style annotation file.

    Categories are matched to the vocabulary by name; boxes of categories
    outside it are left out (and counted). Every image of the file is
    used: one without a box of the vocabulary is a negative example.

    Args:
        ann_file (str): COCO JSON (``images``, ``annotations`` with xywh
            ``bbox``, ``categories`` with ``name``).
        vocabulary (Sequence[str]): Class names; labels index it.
        img_dir (str, optional): Folder of the ``file_name`` paths;
            defaults to the annotation file's folder.

    Returns:
        dict: ``images`` (paths), ``file_names`` (as in the file),
        ``boxes`` (arrays (n, 4) xyxy), ``labels`` (arrays (n,)),
        ``left_out`` (``{category: count}``).
    """
    with open(ann_file, encoding='utf-8') as f:
        try:
            coco = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f'{ann_file}: not valid JSON ({err})') from None
    for key in ('images', 'annotations', 'categories'):
        if not isinstance(coco.get(key), list):
            raise ValueError(f'{ann_file}: no "{key}" list (COCO format)')
    img_dir = osp.dirname(ann_file) if img_dir is None else img_dir
    index = {name: k for k, name in enumerate(vocabulary)}
    cat_names = {c['id']: c['name'] for c in coco['categories']}
    boxes = {img['id']: [] for img in coco['images']}
    labels = {img['id']: [] for img in coco['images']}
    left_out: Dict[str, int] = {}
    for a, ann in enumerate(coco['annotations']):
        name = cat_names.get(ann.get('category_id'))
        if ann.get('image_id') not in boxes or name is None:
            raise ValueError(f'{ann_file}: annotation {a} refers to an '
                             'unknown image_id or category_id')
        if name not in index:
            left_out[name] = left_out.get(name, 0) + 1
            continue
        x, y, w, h = (float(v) for v in ann['bbox'])
        boxes[ann['image_id']].append([x, y, x + w, y + h])
        labels[ann['image_id']].append(index[name])
    ids = [img['id'] for img in coco['images']]
    return dict(
        images=[
            osp.join(img_dir, img['file_name']) for img in coco['images']
        ],
        file_names=[img['file_name'] for img in coco['images']],
        boxes=[np.asarray(boxes[i], np.float32).reshape(-1, 4) for i in ids],
        labels=[np.asarray(labels[i], np.int64) for i in ids],
        left_out=left_out)
