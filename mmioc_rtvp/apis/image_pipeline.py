# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""One image file through a detector's test pipeline, outside the inferencer.

What the analysis tools (``tools/analysis_tools/visualize_prompts.py``,
``tsne_region_embeddings.py``) need to run a model's own layers on an image:
the config's test pipeline reading a file, the model with its checkpoint,
the preprocessed network input and the map back to original pixels.
:class:`~mmioc_rtvp.apis.MMIOCInferencer` finds its pipeline with
:func:`find_pipeline` too.
"""
import os.path as osp
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import DefaultScope

#: Test-pipeline steps an inference input has no data for (annotations,
#: the dataset's class texts).
SKIPPED_TRANSFORMS = ('LoadAnnotations', 'LoadText', 'RandomLoadText')


def find_pipeline(dataset_cfg: dict) -> Optional[list]:
    """The pipeline of a dataset config, looking into wrapped (``dataset``)
    and concatenated (``datasets``, the first) ones.

    Args:
        dataset_cfg (dict): A dataset config (``test_dataloader.dataset``).

    Returns:
        list, optional: Its pipeline steps; None when there is none.
    """
    if dataset_cfg.get('pipeline'):
        return dataset_cfg['pipeline']
    if dataset_cfg.get('dataset'):
        return find_pipeline(dataset_cfg['dataset'])
    if dataset_cfg.get('datasets'):
        return find_pipeline(dataset_cfg['datasets'][0])
    return None


def build_file_pipeline(cfg: Config) -> Compose:
    """The test pipeline of ``cfg`` reading an image FILE, without the
    annotation / dataset-text steps; it takes
    ``dict(img_path=..., img_id=...)``.

    Args:
        cfg (Config): A detector config with a ``test_dataloader``.

    Returns:
        Compose: The pipeline.
    """
    pipeline = find_pipeline(cfg.test_dataloader.dataset)
    if not pipeline:
        raise ValueError('the config\'s test_dataloader has no pipeline')
    return Compose([
        t for t in pipeline
        if str(t['type']).split('.')[-1] not in SKIPPED_TRANSFORMS
    ])


def build_array_pipeline(cfg: Config,
                         drop_meta_keys: Sequence[str] = (),
                         with_boxes: bool = False) -> Compose:
    """The test pipeline of ``cfg`` reading a decoded BGR array.

    ``LoadImageFromFile`` becomes ``LoadImageFromNDArray``; the annotation
    and dataset-text steps are left out, and so are ``drop_meta_keys`` of
    the packing step. With ``with_boxes``, annotations are loaded right
    after the image, so that the resize and letterbox steps map the boxes
    into the network input (the test pipeline loads them after resizing:
    evaluation wants original pixels).

    Args:
        cfg (Config): A detector config with a ``test_dataloader``.
        drop_meta_keys (Sequence[str]): Meta keys the inputs do not have.
        with_boxes (bool): Also map ``instances`` (``bbox`` xyxy,
            ``bbox_label``, ``ignore_flag``) into input pixels.

    Returns:
        Compose: Takes ``dict(img=(H, W, 3) BGR uint8, ...)``.
    """
    pipeline = find_pipeline(cfg.test_dataloader.dataset)
    if not pipeline:
        raise ValueError('the config\'s test_dataloader has no pipeline')
    steps = []
    for step in pipeline:
        name = str(step['type']).split('.')[-1]
        if name in SKIPPED_TRANSFORMS:
            continue
        step = dict(step)
        if name == 'LoadImageFromFile':
            steps.append(dict(type='mmdet.LoadImageFromNDArray'))
            if with_boxes:
                step = dict(type='mmdet.LoadAnnotations', with_bbox=True)
            else:
                continue
        if 'meta_keys' in step:
            step['meta_keys'] = tuple(
                k for k in step['meta_keys'] if k not in drop_meta_keys)
        steps.append(step)
    if not any(s['type'] == 'mmdet.LoadImageFromNDArray' for s in steps):
        raise ValueError('the test pipeline of the config has no '
                         'LoadImageFromFile step')
    # the config's transforms resolve in its scope (mmyolo's through it)
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope', 'mmioc_rtvp')):
        return Compose(steps)


def load_detector(config: str,
                  checkpoint: str,
                  cfg_options: Optional[dict] = None,
                  device: str = 'cpu',
                  seed: int = 0) -> nn.Module:
    """Build a detector and load its checkpoint strictly, as the
    inferencer does (:func:`~mmioc_rtvp.apis.build_detector`: a checkpoint
    that does not match its config is refused naming both; frozen encoders
    left out of slim checkpoints are rebuilt from their own files), in eval
    mode.

    Args:
        config (str): Config file.
        checkpoint (str): Checkpoint file, or ``none`` for random weights.
        cfg_options (dict, optional): Config overrides.
        device (str): Device. Defaults to ``'cpu'``.
        seed (int): Seed of the random weights (checkpoint ``none``).

    Returns:
        nn.Module: The model, with ``.cfg`` set to the merged config.
    """
    from .model_loading import build_detector
    if not osp.isfile(config):
        raise FileNotFoundError(f'no such config file: {config}')
    random_weights = checkpoint.lower() == 'none'
    if not random_weights and not osp.isfile(checkpoint):
        raise FileNotFoundError(
            f'no such checkpoint: {checkpoint} (use `none` for random '
            'weights)')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    torch.manual_seed(seed)
    model, _ = build_detector(cfg, None if random_weights else checkpoint)
    return model.to(device)


def prepare_inputs(model: nn.Module, pipeline: Compose,
                   image_path: str) -> Tuple[torch.Tensor, dict]:
    """Run one image through the test pipeline and the preprocessor.

    Args:
        model (nn.Module): The detector (its ``data_preprocessor``).
        pipeline (Compose): See :func:`build_file_pipeline`.
        image_path (str): The image.

    Returns:
        tuple: ``(inputs, meta)``: the (1, 3, H, W) network input and the
        sample's metainfo (``ori_shape``, ``scale_factor``, ``pad_param``).
    """
    if not osp.isfile(image_path):
        raise FileNotFoundError(f'no such image: {image_path}')
    data = pipeline(dict(img_path=image_path, img_id=0))
    data = model.data_preprocessor(pseudo_collate([data]), False)
    return data['inputs'], data['data_samples'][0].metainfo


def input_to_original(meta: dict) -> Tuple[float, float, float, float]:
    """The affine map of the test pipeline, original -> input pixels.

    ``u = x * sx + left``, ``v = y * sy + top`` (what mmyolo's heads invert
    to rescale boxes: subtract ``pad_param``, divide by ``scale_factor``).

    Args:
        meta (dict): Metainfo with ``scale_factor`` ``(sx, sy)`` and,
            after a letterbox, ``pad_param`` ``(top, bottom, left, right)``.

    Returns:
        tuple[float]: ``(sx, sy, left, top)``.
    """
    sx, sy = (float(s) for s in meta.get('scale_factor', (1.0, 1.0)))
    pad = meta.get('pad_param')
    top, left = (0.0, 0.0) if pad is None else (float(pad[0]), float(pad[2]))
    return sx, sy, left, top
