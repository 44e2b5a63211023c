# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Image path -> :class:`ImageDetections` with a trained detector."""
import os.path as osp
from typing import Optional, Union

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate

from .category_hierarchy import CategoryHierarchy
from .detection import BadInputError, Detection, ImageDetections

# test-pipeline steps that need annotations or a dataset's texts
_SKIP_STEPS = ('LoadAnnotations', 'LoadText', 'RandomLoadText')


def _inner_dataset(dataset: dict) -> Optional[dict]:
    """The dataset a wrapper holds (the first one of a ConcatDataset)."""
    if 'dataset' in dataset:
        return dataset['dataset']
    if dataset.get('datasets'):
        return dataset['datasets'][0]
    return None


def test_ann_file(cfg: Config) -> str:
    """The annotation file of ``cfg.test_dataloader`` (through dataset
    wrappers; the first dataset of a ``ConcatDataset``), joined to its
    ``data_root``."""
    dataset = cfg.test_dataloader.dataset
    while dataset is not None and 'ann_file' not in dataset:
        dataset = _inner_dataset(dataset)
    if dataset is None or not dataset.get('ann_file'):
        raise BadInputError(f'{cfg.filename}: test_dataloader has no '
                            'ann_file; set vqa.ann_file to an MMIOC '
                            'annotation file')
    return osp.join(dataset.get('data_root') or '', dataset['ann_file'])


def inference_pipeline(cfg: Config) -> Compose:
    """The test pipeline of ``cfg`` without annotation and text loading."""
    dataset = cfg.test_dataloader.dataset
    while not dataset.get('pipeline') and _inner_dataset(dataset):
        dataset = _inner_dataset(dataset)
    return Compose([
        t for t in dataset['pipeline']
        if str(t['type']).split('.')[-1] not in _SKIP_STEPS
    ])


def read_image_size(path: str) -> tuple:
    """``(width, height)`` of a readable image.

    Raises:
        BadInputError: Missing or unreadable (one line naming the file).
    """
    if not osp.isfile(path):
        raise BadInputError(f'{path}: no such image file')
    try:
        img = mmcv.imread(path)
    except Exception as err:  # noqa: BLE001 - any decoder failure
        raise BadInputError(f'{path}: cannot read the image ({err})') from err
    if not isinstance(img, np.ndarray) or img.size == 0:
        raise BadInputError(f'{path}: cannot read the image (not a decodable '
                            'image file)')
    return img.shape[1], img.shape[0]


class RTVPNetDetections:
    """Detect the defects of one image with a detector of this project.

    An open-vocabulary detector (one with ``reparameterize``) searches the
    hierarchy's class names (the canonical prompts); a closed-set detector
    uses its own classes, which must be the hierarchy's.

    Args:
        model (torch.nn.Module): A detector built by
            ``mmdet.apis.init_detector`` (has ``cfg``).
        hierarchy (CategoryHierarchy): Vocabulary, in label order.
        score_thr (float): Detections below it are dropped. Defaults to 0.3.
    """

    def __init__(self, model: torch.nn.Module, hierarchy: CategoryHierarchy,
                 score_thr: float = 0.3) -> None:
        self.model = model
        self.hierarchy = hierarchy
        self.score_thr = score_thr
        self.pipeline = inference_pipeline(model.cfg)
        if hasattr(model, 'reparameterize'):
            model.reparameterize([hierarchy.names])
        else:
            classes = list(model.dataset_meta.get('classes', ()))
            if classes and classes != hierarchy.names:
                raise BadInputError(
                    f'the detector has classes {classes} but the hierarchy '
                    f'has {hierarchy.names}')

    @classmethod
    def from_checkpoint(cls,
                        cfg: Union[str, Config],
                        checkpoint: str,
                        hierarchy: Optional[CategoryHierarchy] = None,
                        score_thr: float = 0.3,
                        device: str = 'cpu') -> 'RTVPNetDetections':
        """Build the detector of ``cfg`` with the weights of ``checkpoint``
        (loaded with ``weights_only=True``).

        Raises:
            BadInputError: Missing checkpoint (one line naming it).
        """
        from mmdet.apis import init_detector
        if not osp.isfile(checkpoint):
            raise BadInputError(f'{checkpoint}: no such checkpoint file')
        cfg = Config.fromfile(cfg) if isinstance(cfg, str) else cfg
        if hierarchy is None:
            ann_file = cfg.get('vqa', {}).get('ann_file') or test_ann_file(cfg)
            hierarchy = CategoryHierarchy.from_ann_file(ann_file)
        # palette 'random': no need to build the test dataset for colours
        model = init_detector(cfg, checkpoint, device=device,
                              palette='random')
        return cls(model, hierarchy, score_thr)

    def __call__(self, image: str) -> ImageDetections:
        """Detections of ``image`` with score >= ``score_thr``.

        Raises:
            BadInputError: The image is missing or unreadable.
        """
        width, height = read_image_size(image)
        data = self.pipeline(dict(img_path=image, img_id=0))
        with torch.no_grad():
            result = self.model.test_step(pseudo_collate([data]))[0]
        inst = result.pred_instances
        keep = inst.scores >= self.score_thr
        names = self.hierarchy.names
        dets = []
        for box, score, label in zip(inst.bboxes[keep].tolist(),
                                     inst.scores[keep].tolist(),
                                     inst.labels[keep].tolist()):
            info = self.hierarchy[names[label]]
            dets.append(Detection(info.name, tuple(box), float(score),
                                  info.supercategory, info.scene))
        return ImageDetections(image, width, height, dets)
