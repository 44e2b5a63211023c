# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Stop a run whose class counts disagree, before its first step."""
from typing import List, Optional, Tuple

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmioc_rtvp.registry import HOOKS

#: (number of classes, where it comes from)
Count = Tuple[Optional[int], str]


class ClassCountError(ValueError):
    """Two places of a config give different numbers of classes."""


def _check(a: Count, b: Count) -> None:
    """Raise :class:`ClassCountError` (one line) when both are known and
    differ."""
    if a[0] is not None and b[0] is not None and int(a[0]) != int(b[0]):
        raise ClassCountError(
            f'class count mismatch: {a[1]} = {a[0]} but {b[1]} = {b[0]}')


def _dataset_count(dataloader, split: str) -> Count:
    dataset = dataloader.dataset
    classes = (getattr(dataset, 'metainfo', None) or {}).get('classes')
    inner = getattr(dataset, 'dataset', dataset)
    source = getattr(inner, 'ann_file', None) or type(inner).__name__
    return (None if classes is None else len(classes),
            f"classes of the {split} dataset ({source})")


def _pipeline_text_count(dataloader) -> Count:
    """K of the text sampler (``RandomLoadText.max_num_samples`` when it
    pads every image's vocabulary to it)."""
    pipeline = getattr(dataloader.dataset, 'pipeline', None)
    for transform in getattr(pipeline, 'transforms', []):
        if type(transform).__name__ == 'RandomLoadText' and getattr(
                transform, 'padding_to_max', False):
            return (transform.max_num_samples,
                    'train pipeline RandomLoadText.max_num_samples')
    return None, ''


def model_class_counts(model) -> List[Count]:
    """The class counts a detector carries, with their config names.

    Returns:
        list: ``[(n, name), ...]`` for ``model.bbox_head.num_classes``,
        ``model.train_cfg.assigner.num_classes`` (the built assigner),
        ``model.num_train_classes`` and ``model.num_test_classes`` (None
        when the model does not have it).
    """
    model = model.module if is_model_wrapper(model) else model
    head = getattr(model, 'bbox_head', None)
    assigner = getattr(head, 'assigner', None)
    while assigner is not None and not hasattr(assigner, 'num_classes') \
            and hasattr(assigner, 'assigner'):
        assigner = assigner.assigner  # a recording wrapper
    return [
        (getattr(head, 'num_classes', None),
         'model.bbox_head.head_module.num_classes'),
        (getattr(assigner, 'num_classes', None),
         'model.train_cfg.assigner.num_classes'),
        (getattr(model, 'num_train_classes', None), 'model.num_train_classes'),
        (getattr(model, 'num_test_classes', None), 'model.num_test_classes'),
    ]


@HOOKS.register_module()
class ClassCountCheckHook(Hook):
    """Check that every place of a config agrees on the number of classes.

    Before training:

    - the head's ``num_classes`` = the assigner's ``num_classes``;
    - an open-vocabulary detector (with ``num_train_classes``): that
      number = the head's, and = the text sampler's ``max_num_samples``
      (when it pads to it);
    - a closed-set detector: the head's = the training dataset's classes.

    Before validation / test: an open-vocabulary detector's
    ``num_test_classes`` (when set), or a closed-set detector's head, =
    the dataset's classes. (The class-text file is checked against the
    annotation file's categories by ``MultiModalDataset`` itself.)

    A mismatch raises :class:`ClassCountError` with one line naming both
    numbers and where they come from, before any step is taken.
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        head, assigner, train_k, _ = model_class_counts(runner.model)
        _check(head, assigner)
        loader = runner.train_dataloader
        if train_k[0] is not None:
            _check(train_k, head)
            _check(train_k, _pipeline_text_count(loader))
        else:
            _check(head, _dataset_count(loader, 'training'))

    def _check_eval(self, runner, loader, split: str) -> None:
        head, _, train_k, test_k = model_class_counts(runner.model)
        if train_k[0] is not None:
            _check(test_k, _dataset_count(loader, split))
        else:
            _check(head, _dataset_count(loader, split))

    def before_val(self, runner) -> None:
        self._check_eval(runner, runner.val_dataloader, 'validation')

    def before_test(self, runner) -> None:
        self._check_eval(runner, runner.test_dataloader, 'test')
