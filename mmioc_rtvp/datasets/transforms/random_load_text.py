# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import random
from typing import List, Tuple

import numpy as np
from mmcv.transforms import BaseTransform

from mmioc_rtvp.registry import TRANSFORMS
from .text_utils import get_class_texts

# per-box keys filtered together with ``gt_bboxes_labels``
BOX_KEYS: Tuple[str, ...] = ('gt_bboxes', 'gt_bboxes_labels',
                             'gt_ignore_flags', 'gt_masks')


@TRANSFORMS.register_module()
class RandomLoadText(BaseTransform):
    """Sample the text vocabulary of one training image.

    Contract (input -> output):

    - ``results['texts']``: ``list[list[str]]`` with the prompts of every
      class of the dataset (``C`` classes, from :class:`MultiModalDataset`)
      -> ``list[str]`` of ``K`` prompts, one per sampled class (``K =
      max_num_samples`` when ``padding_to_max``).
    - ``results['gt_bboxes_labels']``: ``(N, )`` class indices in
      ``[0, C)`` -> ``(N', )`` indices into the new ``texts``, so that
      ``texts[label]`` is a prompt of the box's class.

    Steps: take the positive classes (the classes of the image's boxes; at
    most ``max_num_samples`` of them, chosen at random when there are more),
    add ``n`` negative classes drawn without replacement from the other
    classes, with ``n`` uniform in ``num_neg_samples`` but capped so that the
    total stays within ``max_num_samples`` and ``C``; pick one random prompt
    per class; shuffle. Boxes whose class was not sampled (possible only
    when an image has more than ``max_num_samples`` classes) are dropped,
    with the matching entries of ``gt_bboxes``, ``gt_ignore_flags`` and
    ``gt_masks``. With ``padding_to_max`` the list is padded to
    ``max_num_samples`` with ``padding_value``, so that every image of a
    batch has the same K.

    Randomness comes from Python's :mod:`random` (as MMYOLO's mix
    transforms), so ``random.seed`` makes it reproducible.

    Required Keys: ``texts``, ``gt_bboxes_labels``.
    Modified Keys: ``texts``, ``gt_bboxes_labels``, and ``gt_bboxes``,
    ``gt_ignore_flags``, ``gt_masks`` when boxes are dropped.

    Args:
        num_neg_samples (tuple[int, int]): Inclusive range ``(lo, hi)`` of
            the number of negative classes. Defaults to ``(80, 80)``.
        max_num_samples (int): Maximum number of classes K. Defaults to 80.
        padding_to_max (bool): Pad ``texts`` to ``max_num_samples``.
            Defaults to True.
        padding_value (str): The padding prompt. Defaults to ``''``.
    """

    def __init__(self,
                 num_neg_samples: Tuple[int, int] = (80, 80),
                 max_num_samples: int = 80,
                 padding_to_max: bool = True,
                 padding_value: str = '') -> None:
        lo, hi = num_neg_samples
        if not 0 <= lo <= hi:
            raise ValueError('RandomLoadText: num_neg_samples must be (lo, '
                             f'hi) with 0 <= lo <= hi, got {num_neg_samples}')
        if max_num_samples < 1:
            raise ValueError('RandomLoadText: max_num_samples must be >= 1, '
                             f'got {max_num_samples}')
        self.num_neg_samples = (int(lo), int(hi))
        self.max_num_samples = int(max_num_samples)
        self.padding_to_max = padding_to_max
        self.padding_value = padding_value

    def transform(self, results: dict) -> dict:
        """Sample the texts and remap the labels.

        Args:
            results (dict): With ``texts`` (list[list[str]], C classes) and
                ``gt_bboxes_labels`` ((N, ) int array).

        Returns:
            dict: ``results`` with ``texts`` (list[str], K) and remapped
            labels.
        """
        class_texts = get_class_texts(results, self)
        num_classes = len(class_texts)
        labels = np.asarray(results['gt_bboxes_labels'], dtype=np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f"RandomLoadText: {results.get('img_path')}: "
                             f'box labels must be in [0, {num_classes}), got '
                             f'{sorted(set(labels.tolist()))}')

        positives = sorted(set(labels.tolist()))
        if len(positives) > self.max_num_samples:
            positives = random.sample(positives, self.max_num_samples)
        positive_set = set(positives)
        room = min(num_classes, self.max_num_samples) - len(positives)
        num_neg = max(0, min(random.randint(*self.num_neg_samples), room))
        candidates = [c for c in range(num_classes) if c not in positive_set]
        negatives = random.sample(candidates, num_neg)
        sampled = positives + negatives
        random.shuffle(sampled)

        texts: List[str] = [random.choice(class_texts[c]) for c in sampled]
        if self.padding_to_max:
            texts += [self.padding_value] * (self.max_num_samples - len(texts))

        new_label = np.full(num_classes, -1, dtype=np.int64)
        new_label[sampled] = np.arange(len(sampled))
        mapped = new_label[labels]
        keep = mapped >= 0
        if not keep.all():
            for key in BOX_KEYS:
                if key in results:
                    results[key] = results[key][keep]
        results['gt_bboxes_labels'] = mapped[keep]
        results['texts'] = texts
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}('
                f'num_neg_samples={self.num_neg_samples}, '
                f'max_num_samples={self.max_num_samples}, '
                f'padding_to_max={self.padding_to_max}, '
                f'padding_value={self.padding_value!r})')
