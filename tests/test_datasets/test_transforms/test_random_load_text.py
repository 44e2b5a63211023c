# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import random

import numpy as np
import pytest
from mmdet.structures.bbox import HorizontalBoxes

from mmioc_rtvp.datasets.transforms import RandomLoadText

# 8 classes, every prompt names its class: class c -> 'c<c> ...'
CLASS_TEXTS = [[f'c{c} prompt {p}' for p in range(1 + c % 3)]
               for c in range(8)]


def class_of(text):
    """The class a prompt was written for."""
    return int(text.split()[0][1:])


def make_results(labels):
    labels = np.array(labels, dtype=np.int64)
    n = len(labels)
    # box i is [i, i, i + 10, i + 10] so rows can be traced after filtering
    boxes = np.stack(
        [np.arange(n)] * 2 + [np.arange(n) + 10] * 2,
        axis=1).astype(np.float32)
    return dict(
        texts=[list(t) for t in CLASS_TEXTS],
        gt_bboxes=HorizontalBoxes(boxes),
        gt_bboxes_labels=labels,
        gt_ignore_flags=np.arange(n) % 2 == 1,
        img_path='x.png')


def run(transform, labels, seed):
    random.seed(seed)
    np.random.seed(seed)
    return transform(make_results(labels))


@pytest.mark.parametrize('seed', range(20))
def test_positives_kept_and_labels_remapped(seed):
    transform = RandomLoadText(
        num_neg_samples=(1, 3), max_num_samples=6, padding_to_max=True)
    labels = [5, 2, 5, 7]
    out = run(transform, labels, seed)
    texts = out['texts']
    assert len(texts) == 6
    real = [t for t in texts if t != '']
    # padding only at the end
    assert texts[:len(real)] == real
    sampled = [class_of(t) for t in real]
    # each class at most once; positives always; 1..3 negatives
    assert len(set(sampled)) == len(sampled)
    assert {2, 5, 7} <= set(sampled)
    assert 1 <= len(sampled) - 3 <= 3
    # every prompt is a prompt of its class
    assert all(t in CLASS_TEXTS[class_of(t)] for t in real)
    # texts[label] is a prompt of the box's true class; no box dropped
    assert [class_of(texts[i]) for i in out['gt_bboxes_labels']] == labels
    assert out['gt_bboxes_labels'].dtype == np.int64
    assert len(out['gt_bboxes']) == 4


def test_padding_count_is_hand_computed():
    transform = RandomLoadText(
        num_neg_samples=(2, 2), max_num_samples=10, padding_value='<pad>')
    out = run(transform, [3], 0)
    # 1 positive + 2 negatives + 7 paddings
    assert out['texts'][3:] == ['<pad>'] * 7
    assert '<pad>' not in out['texts'][:3]
    # without padding the list keeps its 3 entries
    transform = RandomLoadText(
        num_neg_samples=(2, 2), max_num_samples=10, padding_to_max=False)
    assert len(run(transform, [3], 0)['texts']) == 3


def test_negatives_capped_by_vocabulary_and_max():
    # 8 classes, 2 positives: at most 6 negatives exist
    out = run(RandomLoadText((50, 50), max_num_samples=80), [0, 1], 1)
    assert sorted(class_of(t) for t in out['texts'] if t) == list(range(8))
    assert len(out['texts']) == 80
    # max 4: 2 positives + 2 negatives
    out = run(RandomLoadText((50, 50), max_num_samples=4), [0, 1], 1)
    assert len(out['texts']) == 4 and '' not in out['texts']


def test_negatives_never_positive_and_cover_all_others():
    transform = RandomLoadText((2, 2), max_num_samples=3)
    negatives = set()
    for seed in range(200):
        out = run(transform, [4], seed)
        classes = [class_of(t) for t in out['texts']]
        assert classes.count(4) == 1
        negatives |= set(classes) - {4}
    assert negatives == set(range(8)) - {4}


def test_too_many_positives_drops_boxes_consistently():
    transform = RandomLoadText((0, 0), max_num_samples=2)
    labels = [0, 1, 2, 3, 1, 0]
    for seed in range(10):
        before = make_results(labels)
        out = run(transform, labels, seed)
        kept_classes = {class_of(t) for t in out['texts']}
        assert len(kept_classes) == 2
        keep = np.array([c in kept_classes for c in labels])
        np.testing.assert_array_equal(out['gt_bboxes'].tensor.numpy(),
                                      before['gt_bboxes'].tensor[keep])
        np.testing.assert_array_equal(out['gt_ignore_flags'],
                                      before['gt_ignore_flags'][keep])
        assert [class_of(out['texts'][i]) for i in out['gt_bboxes_labels']
                ] == [c for c in labels if c in kept_classes]


def test_no_boxes():
    out = run(RandomLoadText((3, 3), max_num_samples=5), [], 0)
    assert len(out['texts']) == 5 and out['texts'][3:] == ['', '']
    assert out['gt_bboxes_labels'].shape == (0, )


def test_deterministic_under_seed():
    transform = RandomLoadText((1, 4), max_num_samples=6)
    first = run(transform, [1, 6], 123)
    second = run(transform, [1, 6], 123)
    assert first['texts'] == second['texts']
    np.testing.assert_array_equal(first['gt_bboxes_labels'],
                                  second['gt_bboxes_labels'])
    outputs = {tuple(run(transform, [1, 6], s)['texts']) for s in range(10)}
    assert len(outputs) > 1


def test_errors():
    with pytest.raises(ValueError, match='lo <= hi'):
        RandomLoadText((3, 1))
    with pytest.raises(ValueError, match='max_num_samples must be >= 1'):
        RandomLoadText(max_num_samples=0)
    results = make_results([1])
    del results['texts']
    with pytest.raises(ValueError, match='MultiModalDataset'):
        RandomLoadText()(results)
    with pytest.raises(
            ValueError,
            match=r'x.png: box labels must be in '
            r'\[0, 8\), got \[8\]'):
        RandomLoadText()(make_results([8]))
    twice = RandomLoadText()(make_results([1]))
    with pytest.raises(ValueError, match='applied twice'):
        RandomLoadText()(twice)
