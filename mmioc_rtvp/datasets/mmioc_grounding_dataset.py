# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Grounding records (one expression, one referent) for the text detectors."""
from typing import List

from mmdet.datasets import MDETRStyleRefCocoDataset

from mmioc_rtvp.registry import DATASETS


@DATASETS.register_module()
class MMIOCGroundingDataset(MDETRStyleRefCocoDataset):
    """MDETR-style grounding file as a one-prompt detection task.

    Reads what ``tools/dataset_converters/make_grounding_split.py`` writes
    (and mmdet's ``MDETRStyleRefCocoDataset`` reads): one record per
    expression, with its image, its ``caption`` and exactly one box. Each
    data info additionally gets

    - ``texts``: ``[caption]``, the one-prompt vocabulary the detectors of
      this package read (``PackDetInputs(meta_keys=(..., 'texts'))``);
    - its box's ``bbox_label`` set to 0 (the index of that prompt);
      ``category_id`` keeps the MMIOC class.

    Unlike the parent it can be trained on. Every record is checked: an
    expression without text or without exactly one box stops loading with
    one line naming the file and the record.

    Args:
        *args: Arguments of ``MDETRStyleRefCocoDataset``
            (``data_root``, ``ann_file``, ``data_prefix``, ``pipeline``,
            ``test_mode``...).
        **kwargs: Same.
    """
    METAINFO = dict(classes=('referent', ))

    def load_data_list(self) -> List[dict]:
        """Load the records and give each its one-prompt vocabulary.

        Returns:
            list[dict]: Data infos with ``texts`` and one instance each.
        """
        data_list = super().load_data_list()
        for info in data_list:
            where = f'{self.ann_file}: expression {info["img_id"]}'
            text = info.get('text')
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f'{where}: empty or missing caption')
            if len(info['instances']) != 1:
                raise ValueError(
                    f'{where} ({text!r}) has {len(info["instances"])} boxes; '
                    'a grounding record needs exactly one referent')
            instance = info['instances'][0]
            x1, y1, x2, y2 = instance['bbox']
            if not (x2 > x1 and y2 > y1):
                raise ValueError(f'{where} ({text!r}): referent box '
                                 f'{instance["bbox"]} has no area')
            instance['category_id'] = instance['bbox_label']
            instance['bbox_label'] = 0
            info['texts'] = [text.strip()]
        return data_list
