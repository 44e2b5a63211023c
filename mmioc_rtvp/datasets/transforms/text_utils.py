# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Helpers shared by the text transforms."""
from typing import Sequence

from mmcv.transforms import BaseTransform


def get_class_texts(results: dict,
                    transform: BaseTransform) -> Sequence[Sequence[str]]:
    """The per-class prompts of ``results``, with a clear error if absent.

    Args:
        results (dict): The transform's input.
        transform (BaseTransform): The calling transform (for the message).

    Returns:
        Sequence[Sequence[str]]: ``results['texts']``.
    """
    class_texts = results.get('texts')
    name = type(transform).__name__
    if class_texts is None:
        raise ValueError(f"{name}: results has no 'texts'; wrap the dataset "
                         'in MultiModalDataset')
    if not class_texts or isinstance(class_texts[0], str):
        raise ValueError(f"{name}: results['texts'] must be one list of "
                         'prompts per class (list[list[str]]); was a text '
                         'transform applied twice?')
    return class_texts
