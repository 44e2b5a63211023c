# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Image path -> :class:`ImageDetections` with a trained detector, through
``mmioc_rtvp.apis.MMIOCInferencer``."""
import os.path as osp
from typing import Optional, Union

from mmengine.config import Config

from .category_hierarchy import CategoryHierarchy
from .detection import BadInputError, Detection, ImageDetections


def _inner_dataset(dataset: dict) -> Optional[dict]:
    """The dataset a wrapper holds (the first one of a ConcatDataset)."""
    if 'dataset' in dataset:
        return dataset['dataset']
    if dataset.get('datasets'):
        return dataset['datasets'][0]
    return None


def config_ann_file(cfg: Config) -> str:
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


class RTVPNetDetections:
    """Detect the defects of one image with :class:`MMIOCInferencer`.

    An open-vocabulary detector searches the hierarchy's class names (the
    canonical prompts, as the test pipeline's ``LoadText`` gives them); a
    closed-set detector uses its own classes, which must be the
    hierarchy's.

    Args:
        inferencer (MMIOCInferencer): The detector.
        hierarchy (CategoryHierarchy): Vocabulary, in label order.
        score_thr (float): Detections below it are dropped. Defaults to 0.3.

    Raises:
        BadInputError: The detector cannot take this vocabulary.
    """

    def __init__(self, inferencer, hierarchy: CategoryHierarchy,
                 score_thr: float = 0.3) -> None:
        self.inferencer = inferencer
        self.hierarchy = hierarchy
        self.score_thr = score_thr
        if inferencer.open_vocabulary or inferencer.baked:
            try:
                inferencer.set_vocabulary(hierarchy.names)
            except ValueError as err:
                raise BadInputError(f'{inferencer.weights}: {err}') from err
        elif inferencer.classes != hierarchy.names:
            raise BadInputError(
                f'{inferencer.weights}: the detector has the classes '
                f'{inferencer.classes}, the hierarchy {hierarchy.names}')

    @classmethod
    def from_checkpoint(cls,
                        cfg: Union[str, Config],
                        checkpoint: str,
                        hierarchy: Optional[CategoryHierarchy] = None,
                        score_thr: float = 0.3,
                        device: str = 'cpu') -> 'RTVPNetDetections':
        """The detector of ``cfg`` with the weights of ``checkpoint``
        (training, slim or baked; loaded with ``weights_only=True``).

        Args:
            cfg (str | Config): Detection (or VQA) config.
            checkpoint (str): Weights.
            hierarchy (CategoryHierarchy, optional): Default: read from
                ``vqa.ann_file`` or the test annotation file of ``cfg``.
            score_thr (float): See the class.
            device (str): Device.

        Raises:
            BadInputError: Missing checkpoint or annotation file.
        """
        from mmioc_rtvp.apis import MMIOCInferencer
        if not osp.isfile(checkpoint):
            raise BadInputError(f'{checkpoint}: no such checkpoint file')
        cfg = Config.fromfile(cfg) if isinstance(cfg, str) else cfg
        if hierarchy is None:
            ann_file = cfg.get('vqa', {}).get('ann_file') or config_ann_file(cfg)
            hierarchy = CategoryHierarchy.from_ann_file(ann_file)
        inferencer = MMIOCInferencer(
            model=cfg, weights=checkpoint, device=device,
            show_progress=False)
        return cls(inferencer, hierarchy, score_thr)

    def __call__(self, image: str) -> ImageDetections:
        """Detections of ``image`` with score >= ``score_thr``, best first.

        Raises:
            BadInputError: The image is missing or unreadable.
        """
        if not osp.isfile(image):
            raise BadInputError(f'{image}: no such image file')
        out = self.inferencer(
            image, return_datasamples=True, no_save_vis=True,
            draw_pred=False)
        if out['skipped'] or len(out['predictions']) != 1:
            reason = out['skipped'][0][1] if out['skipped'] else \
                'not a decodable image file'
            raise BadInputError(f'{image}: cannot read the image ({reason})')
        pred = out['predictions'][0]
        height, width = pred.ori_shape[:2]
        inst = pred.pred_instances
        keep = inst.scores >= self.score_thr
        names = self.hierarchy.names
        dets = []
        for box, score, label in zip(inst.bboxes[keep].tolist(),
                                     inst.scores[keep].tolist(),
                                     inst.labels[keep].tolist()):
            info = self.hierarchy[names[label]]
            dets.append(Detection(info.name, tuple(box), float(score),
                                  info.supercategory, info.scene))
        return ImageDetections(image, int(width), int(height), dets)
