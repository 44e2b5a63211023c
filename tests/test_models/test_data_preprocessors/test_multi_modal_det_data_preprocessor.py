# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import copy

import torch
from mmyolo.models.data_preprocessors import YOLOv5DetDataPreprocessor

from mmioc_rtvp.models.data_preprocessors import MultiModalDetDataPreprocessor
from ..yolo_world_utils import make_test_batch, make_train_batch

ARGS = dict(mean=[0., 0., 0.], std=[255., 255., 255.], bgr_to_rgb=True)
TEXTS = [['scratch', 'hole', ''], ['crack', 'stain', 'hole']]


def test_training_batch_keeps_texts_and_matches_parent():
    data = make_train_batch(TEXTS, [[[1, 2, 30, 40]], [[5, 5, 9, 9]]],
                            [[1], [2]])
    ours = MultiModalDetDataPreprocessor(**ARGS)(copy.deepcopy(data), True)
    parent = YOLOv5DetDataPreprocessor(**ARGS)(copy.deepcopy(data), True)
    assert ours['data_samples']['texts'] == TEXTS
    torch.testing.assert_close(ours['inputs'], parent['inputs'])
    # BGR -> RGB and /255
    expected = data['inputs'].float()[:, [2, 1, 0]] / 255.
    torch.testing.assert_close(ours['inputs'], expected)
    torch.testing.assert_close(ours['data_samples']['bboxes_labels'],
                               parent['data_samples']['bboxes_labels'])
    assert ours['data_samples']['img_metas'] == \
        parent['data_samples']['img_metas']
    assert set(ours['data_samples']) == \
        set(parent['data_samples']) | {'texts'}


def test_test_batch_is_untouched_besides_the_parent_work():
    data = make_test_batch(TEXTS)
    ours = MultiModalDetDataPreprocessor(**ARGS)(copy.deepcopy(data), False)
    parent = YOLOv5DetDataPreprocessor(**ARGS)(copy.deepcopy(data), False)
    torch.testing.assert_close(ours['inputs'], parent['inputs'])
    assert [s.texts for s in ours['data_samples']] == TEXTS
    assert [s.metainfo for s in ours['data_samples']] == \
        [s.metainfo for s in parent['data_samples']]
