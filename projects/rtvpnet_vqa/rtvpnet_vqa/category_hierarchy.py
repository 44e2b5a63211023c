# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The MMIOC class hierarchy (class -> supercategory, scene, prompts)."""
import json
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from .detection import BadInputError


@dataclass(frozen=True)
class CategoryInfo:
    """One MMIOC category.

    Args:
        name (str): Canonical name (the first prompt).
        supercategory (str, optional): Supercategory.
        scene (str, optional): Scene.
        texts (tuple[str]): All prompts of the class, the first is ``name``.
    """
    name: str
    supercategory: Optional[str]
    scene: Optional[str]
    texts: Tuple[str, ...]


class CategoryHierarchy:
    """The vocabulary of a VQA model and the MMIOC hierarchy of each class.

    Args:
        categories (Sequence[dict]): MMIOC category records (``name`` and
            optionally ``supercategory``, ``scene``, ``texts``), in the
            order of the detector's labels.
    """

    def __init__(self, categories: Sequence[dict]) -> None:
        self.categories: List[CategoryInfo] = []
        for i, cat in enumerate(categories):
            if not isinstance(cat, dict) or not cat.get('name'):
                raise BadInputError(f'category #{i}: no name in {cat!r}')
            texts = tuple(cat.get('texts') or (cat['name'], ))
            self.categories.append(
                CategoryInfo(cat['name'], cat.get('supercategory'),
                             cat.get('scene'), texts))
        self._by_name: Dict[str, CategoryInfo] = {
            c.name: c for c in self.categories}
        if len(self._by_name) != len(self.categories):
            raise BadInputError('category names are not unique: '
                                f'{[c.name for c in self.categories]}')

    @classmethod
    def from_ann_file(cls, ann_file: str) -> 'CategoryHierarchy':
        """Read the ``categories`` of an MMIOC annotation JSON.

        Raises:
            BadInputError: The file is missing, not JSON or has no categories.
        """
        if not osp.isfile(ann_file):
            raise BadInputError(f'{ann_file}: no such annotation file')
        try:
            with open(ann_file, encoding='utf-8') as f:
                categories = json.load(f).get('categories')
        except (OSError, ValueError, AttributeError) as err:
            raise BadInputError(f'{ann_file}: not an MMIOC annotation file '
                                f'({err})') from err
        if not categories:
            raise BadInputError(f'{ann_file}: no categories')
        return cls(categories)

    @property
    def names(self) -> List[str]:
        """Canonical class names, in label order."""
        return [c.name for c in self.categories]

    def __len__(self) -> int:
        return len(self.categories)

    def __getitem__(self, name: str) -> CategoryInfo:
        return self._by_name[name]

    def get(self, name: str) -> Optional[CategoryInfo]:
        """The category called ``name`` or ``None``."""
        return self._by_name.get(name)

    def aliases(self) -> List[Tuple[str, str]]:
        """Every prompt of every class, lower-cased, with its class name;
        longest first, so that a question is matched to the most specific
        phrase it contains."""
        pairs = {(t.lower().strip(), c.name)
                 for c in self.categories for t in c.texts if t.strip()}
        return sorted(pairs, key=lambda p: (-len(p[0]), p[0]))
