# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import copy
from typing import Any, Callable, List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset, Compose, force_full_init

from mmioc_rtvp.registry import DATASETS, TRANSFORMS
from .file_utils import load_json


def load_class_texts(path: str) -> List[List[str]]:
    """Read a class-text JSON (YOLO-World's format).

    Args:
        path (str): The file: a list with one non-empty list of prompts per
            class, e.g. ``[["crack on brick", "a cracked brick"], ...]``.

    Returns:
        list[list[str]]: The prompts of every class.

    Raises:
        FileNotFoundError: The file does not exist (one line naming it).
        ValueError: The file is not a list of non-empty lists of non-empty
            strings (the message names the file and the class index).
    """
    class_texts = load_json(path, 'class-text file')
    if not isinstance(class_texts, list) or not class_texts:
        raise ValueError(f'class-text file {path}: expected a non-empty list '
                         'of lists of prompts')
    for i, prompts in enumerate(class_texts):
        if (not isinstance(prompts, list) or not prompts
                or not all(isinstance(p, str) and p for p in prompts)):
            raise ValueError(f'class-text file {path}: entry {i} must be a '
                             f'non-empty list of non-empty strings, got '
                             f'{prompts!r}')
    return class_texts


@DATASETS.register_module()
class MultiModalDataset:
    """Wraps a detection dataset and gives every sample the class texts.

    The vocabulary is global: every data info gets ``texts``, a
    ``list[list[str]]`` with the prompts of every class of the inner
    dataset (``texts[label]`` are the prompts of class ``label``). The
    transforms :class:`~mmioc_rtvp.datasets.transforms.RandomLoadText`
    (training) and :class:`~mmioc_rtvp.datasets.transforms.LoadText`
    (testing) turn it into the ``list[str]`` a model encodes.

    The wrapper applies the pipeline itself; the inner dataset keeps an
    empty pipeline. In training mode (``test_mode=False``) it passes itself
    as ``results['dataset']``, so that mix transforms (MMYOLO's ``Mosaic``,
    ``YOLOv5MixUp``...) draw their extra images through
    :meth:`get_data_info` and every sub-image carries the texts too.

    Args:
        dataset (dict | BaseDataset): The inner dataset or its config (built
            with the ``mmioc_rtvp`` registry; it must not have a pipeline;
            its ``test_mode`` and ``lazy_init`` default to the wrapper's).
        class_text_path (str, optional): A class-text JSON with one list of
            prompts per category of the inner dataset's annotation file, in
            file order. When a subset of the categories is selected through
            the inner ``metainfo['classes']``, the matching entries are
            taken. None uses the inner metainfo's ``texts``, or, for datasets
            without texts (e.g. plain COCO), the class names. Defaults to
            None.
        pipeline (list[dict | Callable]): The data pipeline. Defaults to
            ``[]``.
        test_mode (bool): Test mode: no ``results['dataset']`` and a
            pipeline returning None is an error. Defaults to False.
        lazy_init (bool): Fully initialise the inner dataset on first use.
            Defaults to False.
        max_refetch (int): In training mode, how many other random samples
            to try when the pipeline returns None. Defaults to 1000.

    Raises:
        FileNotFoundError: ``class_text_path`` does not exist.
        ValueError: The class-text file is malformed or its number of
            classes differs from the annotation file's categories (the
            message names both counts and both files), or the inner dataset
            has a pipeline.
    """

    def __init__(self,
                 dataset: Union[dict, BaseDataset],
                 class_text_path: Optional[str] = None,
                 pipeline: Sequence[Union[dict, Callable]] = [],
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 max_refetch: int = 1000) -> None:
        if isinstance(dataset, dict):
            dataset = copy.deepcopy(dataset)
            if dataset.get('pipeline'):
                raise ValueError('MultiModalDataset: the inner dataset must '
                                 'not have a pipeline; give it to '
                                 'MultiModalDataset instead')
            dataset['pipeline'] = []
            dataset.setdefault('lazy_init', lazy_init)
            dataset.setdefault('test_mode', test_mode)
            self.dataset = DATASETS.build(dataset)
        elif isinstance(dataset, BaseDataset):
            if len(dataset.pipeline.transforms) > 0:
                raise ValueError('MultiModalDataset: the inner dataset must '
                                 'not have a pipeline; give it to '
                                 'MultiModalDataset instead')
            self.dataset = dataset
        else:
            raise TypeError('MultiModalDataset: dataset must be a dict or a '
                            f'BaseDataset, got {type(dataset).__name__}')
        self.class_text_path = class_text_path
        self.test_mode = test_mode
        self.max_refetch = max_refetch
        self.class_texts = self._load_texts(class_text_path)
        self._metainfo = self.dataset.metainfo
        self._metainfo['texts'] = tuple(
            tuple(prompts) for prompts in self.class_texts)
        self.pipeline = Compose([
            TRANSFORMS.build(t) if isinstance(t, dict) else t for t in pipeline
        ])
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    def _load_texts(self, class_text_path: Optional[str]) -> List[List[str]]:
        """The prompts of every class of the inner dataset, label order."""
        inner_meta = self.dataset.metainfo
        classes = inner_meta.get('classes')
        if classes is None:
            raise ValueError('MultiModalDataset: the inner dataset has no '
                             "metainfo['classes']")
        if class_text_path is None:
            if 'texts' in inner_meta:
                return [list(prompts) for prompts in inner_meta['texts']]
            return [[name] for name in classes]

        class_texts = load_class_texts(class_text_path)
        ann_file = getattr(self.dataset, 'ann_file', '') or '<no file>'
        # ids of all categories of the annotation file and of the selected
        # ones (MMIOCDataset); other datasets: all categories are selected
        all_cat_ids = getattr(self.dataset, 'all_cat_ids', None)
        cat_ids = getattr(self.dataset, 'cat_ids', None)
        if all_cat_ids is None or cat_ids is None:
            all_cat_ids = cat_ids = list(range(len(classes)))
        if len(class_texts) != len(all_cat_ids):
            raise ValueError(f'class-text file {class_text_path} has '
                             f'{len(class_texts)} classes but annotation '
                             f'file {ann_file} has {len(all_cat_ids)} '
                             'categories')
        position = {cat_id: i for i, cat_id in enumerate(all_cat_ids)}
        return [list(class_texts[position[cat_id]]) for cat_id in cat_ids]

    @property
    def metainfo(self) -> dict:
        """dict: The inner dataset's metainfo, with ``texts`` (one tuple of
        prompts per class) from the class-text file when one is given."""
        return copy.deepcopy(self._metainfo)

    def full_init(self) -> None:
        """Fully initialise the inner dataset (load its data list)."""
        if self._fully_initialized:
            return
        self.dataset.full_init()
        self._fully_initialized = True

    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        """The inner data info of sample ``idx`` plus ``texts``.

        Args:
            idx (int): Sample index.

        Returns:
            dict: The data info; ``texts`` (list[list[str]]) is a fresh copy
            that transforms may modify.
        """
        data_info = self.dataset.get_data_info(idx)
        data_info['texts'] = [list(prompts) for prompts in self.class_texts]
        return data_info

    def get_cat_ids(self, idx: int) -> List[int]:
        """The labels of the boxes of sample ``idx`` (for class-aware
        samplers).

        Args:
            idx (int): Sample index.

        Returns:
            list[int]: One label per box.
        """
        return self.dataset.get_cat_ids(idx)

    @force_full_init
    def __len__(self) -> int:
        return len(self.dataset)

    def prepare_data(self, idx: int) -> Any:
        """Run the pipeline on sample ``idx``.

        Args:
            idx (int): Sample index.

        Returns:
            Any: The pipeline's output, None if it rejected the sample.
        """
        data_info = self.get_data_info(idx)
        if not self.test_mode:
            data_info['dataset'] = self
        return self.pipeline(data_info)

    def __getitem__(self, idx: int) -> Any:
        """Sample ``idx`` through the pipeline; in training mode a rejected
        sample is replaced by another random one.

        Args:
            idx (int): Sample index.

        Returns:
            Any: The pipeline's output.
        """
        if not self._fully_initialized:
            self.full_init()
        if self.test_mode:
            data = self.prepare_data(idx)
            if data is None:
                raise RuntimeError(f'MultiModalDataset: the test pipeline '
                                   f'returned None for sample {idx}')
            return data
        for _ in range(self.max_refetch + 1):
            data = self.prepare_data(idx)
            if data is not None:
                return data
            idx = np.random.randint(0, len(self))
        raise RuntimeError(f'MultiModalDataset: the pipeline returned None '
                           f'for {self.max_refetch + 1} samples in a row; '
                           'check the dataset and the pipeline')

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(dataset={self.dataset!r}, '
                f'class_text_path={self.class_text_path!r}, '
                f'test_mode={self.test_mode})')
