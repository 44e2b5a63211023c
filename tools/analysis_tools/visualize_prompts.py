# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Overlay RTVPNet's refined visual prompts on images (paper Fig. 13).

For every image, the config's test pipeline (letterbox resize) prepares the
input, :meth:`RTVPNet.visual_prompt_maps` gives one map per pyramid level,
and each map is resampled onto the ORIGINAL image (the resize and the
letterbox padding are undone) and drawn with the viridis colormap: yellow is
high, dark blue low. With ``--ann-file`` the ground-truth boxes of the image
are drawn in red. Example::

    python tools/analysis_tools/visualize_prompts.py \\
        configs/rtvpnet_s_mini.py work_dirs/rtvpnet_s_mini/epoch_40.pth \\
        data/mmioc_mini/images/printed_paper/000016.jpg \\
        --ann-file data/mmioc_mini/annotations/open_val.json \\
        --out-dir work_dirs/prompt_maps --map score --level all

Maps (``--map``): ``score``, the RVP score M (eq. 8); ``keep``, the sparse
selection of eq. 9 (0/1); ``norm``, the channel L2 norm of the injected
prompt S. ``score`` and ``norm`` are min-max normalised per image and level
over the image area (the colours compare positions, not images).
Levels (``--level``): ``all`` writes one PNG per level, ``mean`` one PNG with
the mean of the levels' normalised maps, ``0``/``1``/``2`` one level
(strides 8/16/32). Outputs: ``OUT_DIR/<image stem>_<map>_level<i>.png`` (or
``_mean.png``), the size of the original image.

CHECKPOINT ``none`` builds the model with random weights (seeded by
``--seed``): the maps then show the untrained network, which is only useful
to test the tool.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch.nn as nn
from mmengine.config import DictAction
from mmengine.dataset import Compose

from mmioc_rtvp.apis.image_pipeline import (build_file_pipeline,
                                            input_to_original, load_detector,
                                            prepare_inputs)
from mmioc_rtvp.format.file_io import IMAGE_EXTENSIONS
from mmioc_rtvp.format.io import load_mmioc

#: --map choice -> key of RTVPNet.visual_prompt_maps
MAP_KEYS = {'score': 'scores', 'keep': 'keep_masks', 'norm': 'prompt_norms'}
BOX_COLOR = (0, 0, 255)  # red, BGR


def _linear_weights(coords: np.ndarray, size: int) -> np.ndarray:
    """(N, size) weights of 1-D linear interpolation at ``coords``.

    Sample ``i`` sits at coordinate ``i``; coordinates outside
    ``[0, size - 1]`` take the nearest end sample.
    """
    coords = np.clip(coords, 0, size - 1)
    low = np.floor(coords).astype(np.int64)
    high = np.minimum(low + 1, size - 1)
    frac = coords - low
    weights = np.zeros((len(coords), size), dtype=np.float64)
    rows = np.arange(len(coords))
    np.add.at(weights, (rows, low), 1.0 - frac)
    np.add.at(weights, (rows, high), frac)
    return weights


def map_to_image(feat_map: np.ndarray, stride: float, meta: dict,
                 nearest: bool = False) -> np.ndarray:
    """Resample a feature map onto the original image.

    Cell ``(r, c)`` of a stride-``s`` map covers input pixels
    ``[s*c, s*(c+1)) x [s*r, s*(r+1))`` and is centred at ``s*(c+0.5)``;
    the centre of original pixel ``x`` lies at input ``(x+0.5)*sx + left``
    (see :func:`input_to_original`).

    Args:
        feat_map (np.ndarray): (h, w) map of the network input.
        stride (float): Input pixels per cell.
        meta (dict): Metainfo with ``ori_shape`` (H, W), ``scale_factor``
            and ``pad_param``.
        nearest (bool): The value of the cell holding each pixel (for 0/1
            masks) instead of bilinear interpolation between cell centres.

    Returns:
        np.ndarray: (H, W) float32 map of the original image.
    """
    sx, sy, left, top = input_to_original(meta)
    height, width = meta['ori_shape'][:2]
    feat_map = np.asarray(feat_map, dtype=np.float64)
    h, w = feat_map.shape
    u = (np.arange(width) + 0.5) * sx + left
    v = (np.arange(height) + 0.5) * sy + top
    if nearest:
        cols = np.clip(np.floor(u / stride), 0, w - 1).astype(np.int64)
        rows = np.clip(np.floor(v / stride), 0, h - 1).astype(np.int64)
        return feat_map[rows[:, None], cols[None, :]].astype(np.float32)
    # separable bilinear: (H, h) @ (h, w) @ (w, W)
    wy = _linear_weights(v / stride - 0.5, h)
    wx = _linear_weights(u / stride - 0.5, w)
    return (wy @ feat_map @ wx.T).astype(np.float32)


def normalise(values: np.ndarray) -> np.ndarray:
    """Min-max scale to [0, 1]; a constant map gives zeros."""
    lo, hi = float(values.min()), float(values.max())
    if hi - lo <= 1e-12:
        return np.zeros_like(values, dtype=np.float32)
    return ((values - lo) / (hi - lo)).astype(np.float32)


def check_prompt_model(model: nn.Module, map_name: str) -> None:
    """Raise unless ``model`` produces the map ``map_name``.

    Args:
        model (nn.Module): The detector.
        map_name (str): A key of :data:`MAP_KEYS`.
    """
    name = type(model).__name__
    if not hasattr(model, 'visual_prompt_maps') or getattr(
            model, 'visual_encoder', None) is None:
        raise ValueError(
            f'the model ({name}) has no visual prompts: it needs to be an '
            'RTVPNet with a visual_encoder')
    if map_name != 'norm' and getattr(model, 'visual_prompts', None) is None:
        raise ValueError(
            f'the model ({name}) has no refined visual prompt (RVP, '
            f'visual_prompt=None), so no --map {map_name}; use --map norm')


def prompt_heatmaps(model: nn.Module, pipeline: Compose, image_path: str,
                    map_name: str = 'score',
                    level: str = 'all') -> Tuple[Dict[str, np.ndarray], dict]:
    """Prompt maps of one image, on the original image, in [0, 1].

    Args:
        model (nn.Module): RTVPNet (see :func:`check_prompt_model`).
        pipeline (Compose): Inference pipeline.
        image_path (str): The image.
        map_name (str): ``score``, ``keep`` or ``norm``.
        level (str): ``all``, ``mean`` or a level index.

    Returns:
        tuple: ``({'level<i>' or 'mean': (H, W) float32}, meta)``.
    """
    inputs, meta = prepare_inputs(model, pipeline, image_path)
    maps = model.visual_prompt_maps(inputs)[MAP_KEYS[map_name]]
    if level in ('all', 'mean'):
        levels = list(range(len(maps)))
    else:
        index = int(level)
        if not 0 <= index < len(maps):
            raise ValueError(f'--level {level}: the model has {len(maps)} '
                             'levels')
        levels = [index]
    nearest = map_name == 'keep'
    out = {}
    for i in levels:
        feat = maps[i][0, 0].float().cpu().numpy()
        stride = inputs.shape[-1] / feat.shape[-1]
        heat = map_to_image(feat, stride, meta, nearest=nearest)
        out[f'level{i}'] = heat if nearest else normalise(heat)
    if level == 'mean':
        out = {'mean': np.mean(np.stack(list(out.values())), axis=0)}
    return out, meta


def overlay(image: np.ndarray,
            heat: np.ndarray,
            alpha: float = 0.5,
            boxes: Sequence[Sequence[float]] = ()) -> np.ndarray:
    """Blend a [0, 1] heatmap (viridis: yellow high) and draw red boxes.

    Args:
        image (np.ndarray): (H, W, 3) uint8 BGR image.
        heat (np.ndarray): (H, W) values in [0, 1].
        alpha (float): Weight of the heatmap.
        boxes (Sequence): xyxy boxes in image pixels.

    Returns:
        np.ndarray: (H, W, 3) uint8 BGR.
    """
    levels = np.clip(np.rint(heat * 255), 0, 255).astype(np.uint8)
    colour = cv2.applyColorMap(levels, cv2.COLORMAP_VIRIDIS)
    out = cv2.addWeighted(colour, alpha, image, 1.0 - alpha, 0.0)
    thickness = max(1, round(max(image.shape[:2]) / 300))
    for x1, y1, x2, y2 in boxes:
        cv2.rectangle(out, (int(round(x1)), int(round(y1))),
                      (int(round(x2)), int(round(y2))), BOX_COLOR, thickness)
    return out


def gt_boxes_by_image(ann_file: str) -> Dict[str, dict]:
    """Ground-truth boxes of an MMIOC/COCO file by image ``file_name``.

    Args:
        ann_file (str): Annotation JSON.

    Returns:
        dict[str, dict]: ``file_name`` -> ``dict(boxes=[xyxy, ...],
        shape=(height, width) or None)``; images without boxes have
        ``boxes=[]``.
    """
    data = load_mmioc(ann_file)
    name_of, out = {}, {}
    for img in data['images']:
        name = osp.normpath(img['file_name'])
        name_of[img['id']] = name
        shape = (img['height'], img['width']) if {'height', 'width'} <= set(
            img) else None
        out[name] = dict(boxes=[], shape=shape)
    for ann in data['annotations']:
        if ann.get('image_id') not in name_of:
            raise ValueError(f'{ann_file}: annotation {ann.get("id")} refers '
                             f'to unknown image {ann.get("image_id")}')
        x, y, w, h = ann['bbox']
        out[name_of[ann['image_id']]]['boxes'].append([x, y, x + w, y + h])
    return out


def find_boxes(records: Dict[str, dict], image_path: str,
               image_shape: Tuple[int, int],
               ann_file: str = 'the annotation file'
               ) -> Optional[List[List[float]]]:
    """Boxes of the longest ``file_name`` that ends ``image_path``.

    Args:
        records (dict): From :func:`gt_boxes_by_image`.
        image_path (str): The image.
        image_shape (tuple[int, int]): Its (height, width).
        ann_file (str): Name of the file, for the error message.

    Returns:
        list or None: xyxy boxes, or None if the file does not list the
        image.

    Raises:
        ValueError: The file gives the image another size.
    """
    path = osp.normpath(osp.abspath(image_path))
    best = None
    for name in records:
        if (path == name or path.endswith(os.sep + name)) and (
                best is None or len(name) > len(best)):
            best = name
    if best is None:
        return None
    shape = records[best]['shape']
    if shape is not None and tuple(shape) != tuple(image_shape[:2]):
        raise ValueError(
            f'{image_path}: {ann_file} gives {best} the size {shape[1]}x'
            f'{shape[0]} but the image is {image_shape[1]}x{image_shape[0]}')
    return records[best]['boxes']


def expand_images(paths: Sequence[str]) -> List[str]:
    """Image files of ``paths`` (directories give their images, sorted)."""
    out = []
    for path in paths:
        if osp.isdir(path):
            found = sorted(
                osp.join(path, f) for f in os.listdir(path)
                if f.lower().endswith(IMAGE_EXTENSIONS))
            if not found:
                raise ValueError(f'no images in directory {path}')
            out.extend(found)
        elif osp.isfile(path):
            out.append(path)
        else:
            raise FileNotFoundError(f'no such image: {path}')
    return out


def output_stems(images: Sequence[str]) -> List[str]:
    """File stems, prefixed by the parent directory where they collide."""
    stems = [osp.splitext(osp.basename(p))[0] for p in images]
    counts = {s: stems.count(s) for s in stems}
    return [
        s if counts[s] == 1 else
        f'{osp.basename(osp.dirname(osp.abspath(p)))}_{s}'
        for s, p in zip(stems, images)
    ]


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(
        description='Overlay RTVPNet refined visual prompt maps on images '
        '(paper Fig. 13)')
    parser.add_argument('config')
    parser.add_argument('checkpoint', help='.pth, or `none` (random weights)')
    parser.add_argument('images', nargs='+', help='image files or folders')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument(
        '--level', default='all', choices=['all', 'mean', '0', '1', '2'],
        help='pyramid level(s): all = one PNG each, mean = their mean')
    parser.add_argument('--map', default='score', choices=sorted(MAP_KEYS))
    parser.add_argument(
        '--ann-file', help='MMIOC/COCO json: draw the images\' boxes in red')
    parser.add_argument('--alpha', type=float, default=0.5,
                        help='opacity of the heatmap (default 0.5)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the random weights (checkpoint none)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings')
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> List[str]:
    """Write the overlays; returns the written files."""
    images = expand_images(args.images)
    boxes = gt_boxes_by_image(args.ann_file) if args.ann_file else None
    model = load_detector(args.config, args.checkpoint, args.cfg_options,
                       args.device, args.seed)
    check_prompt_model(model, args.map)
    pipeline = build_file_pipeline(model.cfg)
    os.makedirs(args.out_dir, exist_ok=True)
    written = []
    for path, stem in zip(images, output_stems(images)):
        heats, meta = prompt_heatmaps(model, pipeline, path, args.map,
                                      args.level)
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None or image.shape[:2] != tuple(meta['ori_shape'][:2]):
            raise ValueError(
                f'{path}: OpenCV does not read the image the pipeline read '
                f'(ori_shape {tuple(meta["ori_shape"][:2])})')
        gt = None if boxes is None else find_boxes(
            boxes, path, image.shape[:2], args.ann_file)
        if boxes is not None and gt is None:
            print(f'visualize_prompts: {path} is not in {args.ann_file}; no '
                  'boxes drawn')
        for key, heat in heats.items():
            out = osp.join(args.out_dir, f'{stem}_{args.map}_{key}.png')
            cv2.imwrite(out, overlay(image, heat, args.alpha, gt or ()))
            written.append(out)
    print(f'visualize_prompts: {len(written)} PNGs -> {args.out_dir}')
    return written


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit code."""
    args = parse_args(argv)
    if not 0.0 <= args.alpha <= 1.0:
        print(f'error: --alpha must be in [0, 1], got {args.alpha}',
              file=sys.stderr)
        return 2
    try:
        run(args)
    except (OSError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
