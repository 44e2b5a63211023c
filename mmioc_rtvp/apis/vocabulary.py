# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""A detection vocabulary: K classes, each described by one or more prompts."""
import json
import os.path as osp
from dataclasses import dataclass
from typing import Callable, List, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

#: Separates the prompts of one class in a string (``"scratch|scratched"``).
PROMPT_SEPARATOR = '|'
#: Separates classes in a single string (``"scratch,hole"``).
CLASS_SEPARATOR = ','

VocabularyLike = Union['Vocabulary', str, Sequence[Union[str,
                                                         Sequence[str]]]]


def _split_class(entry: str) -> List[str]:
    """The prompts of one class written ``"a|b|c"``."""
    return [p.strip() for p in entry.split(PROMPT_SEPARATOR)]


def _read_vocabulary_file(path: str) -> List[List[str]]:
    """Classes of a ``.json`` (YOLO-World class texts) or ``.txt`` file."""
    suffix = osp.splitext(path)[1].lower()
    with open(path, encoding='utf-8') as f:
        if suffix == '.json':
            try:
                data = json.load(f)
            except json.JSONDecodeError as err:
                raise ValueError(f'{path}: not valid JSON ({err})') from err
            if not isinstance(data, list):
                raise ValueError(
                    f'{path}: expected a list with one list of prompts per '
                    f'class (YOLO-World class texts), got '
                    f'{type(data).__name__}')
            return [[entry] if isinstance(entry, str) else entry
                    for entry in data]
        if suffix == '.txt':
            return [
                _split_class(line) for line in f.read().splitlines()
                if line.strip() and not line.lstrip().startswith('#')
            ]
    raise ValueError(f'{path}: unknown vocabulary file type {suffix!r}; '
                     'expected .json (list of lists of prompts) or .txt '
                     '(one class per line, prompts separated by "|")')


@dataclass(frozen=True)
class Vocabulary:
    """K classes, each with P_k >= 1 prompts (a prompt ensemble).

    The class name is its first prompt. Encoding a vocabulary
    (:meth:`embed`) encodes every prompt, averages the unit embeddings of
    each class and L2-normalises the mean: one (D,) embedding per class,
    as the text encoders return for a single prompt.

    Build one with :meth:`parse` from any of:

    - a :class:`Vocabulary`;
    - a list whose items are one class each: a prompt string (``"a|b"``
      gives the ensemble ``["a", "b"]``) or a list of prompts;
    - a path to a ``.json`` file (YOLO-World class texts: a list with one
      list of prompts per class, as ``texts/*_class_texts.json`` of
      MMIOC) or a ``.txt`` file (one class per line, prompts separated by
      ``|``, ``#`` comments);
    - any other string: classes separated by ``,`` (``"scratch,hole|pit"``).

    Attributes:
        prompts (tuple[tuple[str, ...], ...]): The K prompt lists.
    """
    prompts: Tuple[Tuple[str, ...], ...]

    def __post_init__(self) -> None:
        if not self.prompts:
            raise ValueError('empty vocabulary: give at least one class '
                             'prompt (e.g. texts=["scratch on metal"])')
        for k, prompts in enumerate(self.prompts):
            if not prompts:
                raise ValueError(f'vocabulary class {k} has no prompt')
            for prompt in prompts:
                if not isinstance(prompt, str) or not prompt.strip():
                    raise ValueError(
                        f'vocabulary class {k}: every prompt must be a '
                        f'non-empty string, got {prompt!r}')
        seen = set()
        duplicates = [n for n in self.names if n in seen or seen.add(n)]
        if duplicates:
            raise ValueError(f'vocabulary: duplicated class names '
                             f'{duplicates[:5]} (labels would be ambiguous)')

    @classmethod
    def parse(cls, texts: VocabularyLike) -> 'Vocabulary':
        """Build a vocabulary from a list, a string or a file (see above).

        Raises:
            ValueError: Empty vocabulary, empty prompt, duplicated class
                names, or a malformed file.
            TypeError: Anything else than the accepted types.
        """
        if isinstance(texts, Vocabulary):
            return texts
        if texts is None:
            raise ValueError('empty vocabulary: no texts were given')
        if isinstance(texts, str):
            if osp.isfile(texts):
                entries = _read_vocabulary_file(texts)
            elif texts.lower().endswith(('.json', '.txt')):
                raise FileNotFoundError(
                    f'vocabulary file {texts} does not exist')
            else:
                entries = [e for e in texts.split(CLASS_SEPARATOR)
                           if e.strip()]
        elif isinstance(texts, (list, tuple)):
            entries = list(texts)
        else:
            raise TypeError('texts must be a list of class prompts, a '
                            'string or a vocabulary file, got '
                            f'{type(texts).__name__}')
        prompts = []
        for k, entry in enumerate(entries):
            if isinstance(entry, str):
                prompts.append(tuple(_split_class(entry)))
            elif isinstance(entry, (list, tuple)):
                prompts.append(tuple(
                    p.strip() if isinstance(p, str) else p for p in entry))
            else:
                raise TypeError(
                    f'vocabulary class {k}: expected a prompt string or a '
                    f'list of prompts, got {type(entry).__name__}')
        return cls(tuple(prompts))

    @property
    def names(self) -> List[str]:
        """list[str]: K class names (the first prompt of each class)."""
        return [prompts[0] for prompts in self.prompts]

    def __len__(self) -> int:
        return len(self.prompts)

    def to_list(self) -> List[List[str]]:
        """The prompts as JSON-friendly lists."""
        return [list(p) for p in self.prompts]

    def embed(self, encode: Callable[[List[List[str]]], Tensor]) -> Tensor:
        """Class embeddings averaged over each class's prompts.

        Args:
            encode (callable): A text encoder's batch interface, ``B`` lists
                of ``N`` prompts -> ``(B, N, D)`` unit embeddings (e.g.
                ``model.backbone.forward_text``).

        Returns:
            Tensor: (1, K, D) L2-normalised class embeddings.
        """
        flat = [p for prompts in self.prompts for p in prompts]
        embeds = encode([flat])[0]  # (N, D)
        sizes = [len(p) for p in self.prompts]
        means = torch.stack(
            [chunk.mean(dim=0) for chunk in embeds.split(sizes, dim=0)])
        return F.normalize(means, dim=-1).unsqueeze(0)
