# Copyright (c) mmioc_rtvp contributors. All rights reserved.
from typing import Sequence

from mmyolo.datasets.utils import yolov5_collate

from mmioc_rtvp.registry import FUNCTIONS


@FUNCTIONS.register_module()
def multimodal_collate(data_batch: Sequence[dict],
                       use_ms_training: bool = False) -> dict:
    """Collate a training batch of packed samples that carry texts.

    MMYOLO's ``yolov5_collate`` plus the per-image meta information and
    texts. Configs write
    ``collate_fn=dict(type='mmioc_rtvp.multimodal_collate')``.
    Test batches keep MMEngine's ``pseudo_collate``: a list of
    ``DetDataSample`` whose ``.texts`` come from ``PackDetInputs``'s
    ``meta_keys``.

    Args:
        data_batch (Sequence[dict]): B outputs of ``PackDetInputs``: each
            with ``inputs`` (3, H, W) and ``data_samples``, a
            ``DetDataSample`` whose metainfo has ``texts`` (list[str] of
            length K, the same K for every sample).
        use_ms_training (bool): Keep ``inputs`` as a list of B tensors
            (multi-scale training) instead of stacking them. Defaults to
            False.

    Returns:
        dict: ``inputs``: (B, 3, H, W) tensor (a list of B (3, H_i, W_i)
        tensors if ``use_ms_training``); ``data_samples``: a dict with

        - ``bboxes_labels``: (N, 6) tensor, rows
          ``[batch_idx, label, x1, y1, x2, y2]`` with ``label < K``,
        - ``img_metas``: list of B metainfo dicts,
        - ``texts``: list of B lists of K strings.

    Raises:
        ValueError: A sample has no ``texts`` (add it to ``meta_keys``), the
            samples have different numbers of texts, or a box
            label is not an index into its sample's texts.
    """
    texts = []
    img_metas = []
    for i, data in enumerate(data_batch):
        data_sample = data['data_samples']
        if 'texts' not in data_sample:
            raise ValueError(f'multimodal_collate: sample {i} has no texts; '
                             "add 'texts' to the meta_keys of PackDetInputs")
        texts.append(list(data_sample.texts))
        labels = data_sample.gt_instances.labels
        if len(labels) > 0 and int(labels.max()) >= len(texts[-1]):
            raise ValueError(f'multimodal_collate: sample {i} has box label '
                             f'{int(labels.max())} but only '
                             f'{len(texts[-1])} texts')
        img_metas.append(data_sample.metainfo)
    lengths = [len(t) for t in texts]
    if len(set(lengths)) > 1:
        raise ValueError('multimodal_collate: every sample needs the same '
                         f'number of texts K, got {lengths}; use '
                         'RandomLoadText(padding_to_max=True)')
    collated = yolov5_collate(data_batch, use_ms_training=use_ms_training)
    collated['data_samples']['img_metas'] = img_metas
    collated['data_samples']['texts'] = texts
    return collated
