# Copyright (c) mmioc_rtvp contributors. All rights reserved.
from mmcv.transforms import BaseTransform

from mmioc_rtvp.registry import TRANSFORMS
from .text_utils import get_class_texts


@TRANSFORMS.register_module()
class LoadText(BaseTransform):
    """Give a test image the whole vocabulary, one prompt per class.

    Contract (input -> output): ``results['texts']``, a ``list[list[str]]``
    with the prompts of each of the C classes (from
    :class:`MultiModalDataset`), becomes a ``list[str]`` of length C in class
    order, so that prediction label ``i`` is class ``i`` of the dataset.
    Labels are not changed.

    Required Keys: ``texts``.
    Modified Keys: ``texts``.

    Args:
        prompt_index (int): Which prompt of each class to use; 0 is the
            canonical prompt. A class with fewer prompts uses its last one.
            Defaults to 0.
    """

    def __init__(self, prompt_index: int = 0) -> None:
        if prompt_index < 0:
            raise ValueError('LoadText: prompt_index must be >= 0, got '
                             f'{prompt_index}')
        self.prompt_index = prompt_index

    def transform(self, results: dict) -> dict:
        """Replace the per-class prompt lists by one prompt per class.

        Args:
            results (dict): With ``texts`` (list[list[str]], C classes).

        Returns:
            dict: ``results`` with ``texts`` (list[str], C).
        """
        class_texts = get_class_texts(results, self)
        results['texts'] = [
            prompts[min(self.prompt_index,
                        len(prompts) - 1)] for prompts in class_texts
        ]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prompt_index={self.prompt_index})'
