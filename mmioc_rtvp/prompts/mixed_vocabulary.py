# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""A vocabulary whose classes are text, exemplars, or both.

Each class gets one (D,) unit embedding, which the detector reads where it
reads a text embedding (``text_feats``):

- ``text``: the prompts' unit embeddings averaged and L2-normalised (a
  prompt ensemble, as :class:`mmioc_rtvp.apis.Vocabulary` does);
- ``exemplars``: the class's entries of a prompt-embeddings file,
  aggregated robustly (:mod:`~mmioc_rtvp.prompts.exemplar_aggregation`) or
  its tuned embedding;
- ``both``: ``normalize(normalize(text) + normalize(exemplars))``, the
  direction half-way between the two (each counts the same, whatever the
  number of prompts or exemplars).

Which classes there are: the text classes in their order, then the classes
that only the file has (those are exemplar-only). A class in both is used
as ``use`` says (default ``both``), unless ``per_class`` says otherwise.
The text side is a callable (the PyTorch text encoder, or the onnxruntime
one) or a table of precomputed prompt embeddings; only numpy is needed
here.
"""
from dataclasses import dataclass
from typing import (Any, Callable, Dict, List, Mapping, Optional, Sequence,
                    Tuple, Union)

import numpy as np

from .embeddings_file import PromptEmbeddings
from .exemplar_aggregation import (MAD_Z, MIN_COSINE, MIN_GAP,
                                   ClassAggregate, aggregate_class,
                                   l2_normalize)

TEXT = 'text'
EXEMPLARS = 'exemplars'
BOTH = 'both'
#: How a class may be described.
USES = (TEXT, EXEMPLARS, BOTH)

#: Prompts -> (N, D) unit embeddings (numpy or torch), or a table
#: ``{prompt: (D,) embedding}``.
TextSource = Union[Callable[[List[str]], Any], Mapping[str, Any]]


@dataclass(frozen=True)
class ClassSpec:
    """One class of a mixed vocabulary.

    Attributes:
        name (str): The class name (the label's meaning; matches the
            ``class`` of the file's records).
        prompts (tuple[str, ...]): Text prompts (empty: no text).
        use (str): ``'text'``, ``'exemplars'`` or ``'both'``.
    """
    name: str
    prompts: Tuple[str, ...] = ()
    use: str = BOTH


@dataclass
class ClassReport:
    """How a class embedding was made.

    Attributes:
        name (str): The class.
        use (str): ``'text'``, ``'exemplars'`` or ``'both'``.
        prompts (tuple[str, ...]): Prompts used (``text`` / ``both``).
        exemplars (ClassAggregate, optional): The file side
            (``exemplars`` / ``both``).
    """
    name: str
    use: str
    prompts: Tuple[str, ...] = ()
    exemplars: Optional[ClassAggregate] = None

    def line(self) -> str:
        """One line: ``hole: both (2 prompts + 3 of 4 exemplars; ...)``."""
        parts = []
        if self.use != EXEMPLARS:
            parts.append(f'{len(self.prompts)} prompt(s)')
        agg = self.exemplars
        if agg is not None and agg.kind == 'tuned':
            parts.append(f'tuned embedding (record {agg.inliers[0]})')
        elif agg is not None:
            total = len(agg.inliers) + len(agg.outliers)
            parts.append(f'{len(agg.inliers)} of {total} exemplar(s)')
        text = f'{self.name}: {self.use} (' + ' + '.join(parts) + ')'
        if agg is not None and agg.outliers:
            text += '; outliers excluded: ' + ', '.join(
                f'record {r} (cosine {c:.2f})' for r, c in agg.outliers)
        return text


@dataclass
class MixedVocabulary:
    """K class embeddings and how each was made.

    Attributes:
        embeddings (np.ndarray): (K, D) float32 unit rows.
        names (list[str]): K class names.
        reports (list[ClassReport]): K reports.
    """
    embeddings: np.ndarray
    names: List[str]
    reports: List[ClassReport]

    def __len__(self) -> int:
        return len(self.names)

    @property
    def text_feats(self) -> np.ndarray:
        """(1, K, D) float32: the detector's ``text_feats`` input."""
        return self.embeddings[None]

    @property
    def warnings(self) -> List[str]:
        """Unresolved disagreements and unused rows, all classes."""
        return [
            w for r in self.reports if r.exemplars is not None
            for w in r.exemplars.warnings
        ]

    def summary(self) -> List[str]:
        """One line per class, then the warnings."""
        return [r.line() for r in self.reports] + self.warnings


def class_specs(text_classes: Sequence[Sequence[str]],
                prompts: Optional[PromptEmbeddings] = None,
                use: str = BOTH,
                per_class: Optional[Mapping[str, str]] = None
                ) -> List[ClassSpec]:
    """The classes of a vocabulary of text classes and a file.

    Args:
        text_classes (Sequence[Sequence[str]]): Prompt lists; a class's name
            is its first prompt.
        prompts (PromptEmbeddings, optional): The exemplar / tuned file.
        use (str): How a class that has both text and file entries is
            used. Defaults to ``'both'``.
        per_class (Mapping[str, str], optional): ``{name: use}`` overrides.

    Returns:
        list[ClassSpec]: Text classes in order, then the file's other
        classes (exemplar-only).

    Raises:
        ValueError: An unknown use, or ``per_class`` naming no class.
    """
    per_class = dict(per_class or {})
    for name, how in [('(default)', use)] + list(per_class.items()):
        if how not in USES:
            raise ValueError(f'class {name!r}: use must be one of '
                             f'{list(USES)}, got {how!r}')
    in_file = set(prompts.class_names) if prompts is not None else set()
    specs = []
    for entry in text_classes:
        entry = tuple(entry)
        name = entry[0]
        how = per_class.pop(name, use if name in in_file else TEXT)
        specs.append(ClassSpec(name, entry, how))
    names = {s.name for s in specs}
    for name in (prompts.class_names if prompts is not None else ()):
        if name not in names:
            specs.append(ClassSpec(name, (), per_class.pop(name, EXEMPLARS)))
    if per_class:
        raise ValueError(f'use given for unknown classes '
                         f'{sorted(per_class)} (neither a text class nor in '
                         'the exemplar file)')
    return specs


def parse_class_use(items: Sequence[str]) -> Dict[str, str]:
    """``['hole=exemplars', 'pit=both']`` -> ``{'hole': 'exemplars', ...}``.

    Raises:
        ValueError: An item that is not ``NAME=USE`` with a known use.
    """
    out = {}
    for item in items:
        name, sep, use = item.rpartition('=')
        if not sep or not name.strip() or use.strip() not in USES:
            raise ValueError(f'class use {item!r}: expected NAME=USE with USE '
                             f'one of {list(USES)}')
        out[name.strip()] = use.strip()
    return out


def _text_embeddings(text: TextSource, prompts: List[str]) -> np.ndarray:
    """(N, D) float32 embeddings of ``prompts``."""
    if isinstance(text, Mapping):
        missing = [p for p in prompts if p not in text]
        if missing:
            raise ValueError(f'no precomputed text embedding for prompts '
                             f'{missing[:5]}')
        return np.stack([np.asarray(text[p], np.float32) for p in prompts])
    out = text(prompts)
    if hasattr(out, 'detach'):  # a torch tensor, without importing torch
        out = out.detach().cpu().numpy()
    out = np.asarray(out, dtype=np.float32)
    if out.ndim == 3 and out.shape[0] == 1:
        out = out[0]
    if out.shape[0] != len(prompts):
        raise ValueError(f'the text encoder returned {tuple(out.shape)} for '
                         f'{len(prompts)} prompts')
    return out


def _check_spec(spec: ClassSpec, agg: Optional[ClassAggregate],
                prompts: Optional[PromptEmbeddings]) -> None:
    """One line when a class lacks what its ``use`` needs."""
    where = (prompts.path or 'the exemplar file') if prompts is not None \
        else 'no exemplar file'
    if spec.use not in USES:
        raise ValueError(f'class {spec.name!r}: use must be one of '
                         f'{list(USES)}, got {spec.use!r}')
    if spec.use != TEXT and agg is None:
        if not spec.prompts:
            raise ValueError(f'class {spec.name!r} has no text prompt and no '
                             f'exemplar ({where}); give one or the other')
        raise ValueError(f'class {spec.name!r} is to use exemplars but has '
                         f'none ({where}); add exemplars or use text')
    if spec.use != EXEMPLARS and not spec.prompts:
        raise ValueError(f'class {spec.name!r} is to use text but has no '
                         'prompt')


def build_mixed_vocabulary(specs: Sequence[ClassSpec],
                           prompts: Optional[PromptEmbeddings] = None,
                           text: Optional[TextSource] = None,
                           min_cosine: float = MIN_COSINE,
                           mad_z: float = MAD_Z,
                           min_gap: float = MIN_GAP) -> MixedVocabulary:
    """Class embeddings of text, exemplar and fused classes.

    Args:
        specs (Sequence[ClassSpec]): The K classes (e.g.
            :func:`class_specs`).
        prompts (PromptEmbeddings, optional): The exemplar / tuned file,
            already checked against the model
            (:func:`~mmioc_rtvp.prompts.load_prompt_embeddings`).
        text (callable | Mapping, optional): Prompts -> (N, D) unit
            embeddings, or ``{prompt: (D,)}``. Needed when a class uses text.
        min_cosine, mad_z, min_gap: Outlier rules, see
            :func:`~mmioc_rtvp.prompts.exemplar_aggregation.find_outliers`.

    Returns:
        MixedVocabulary: (K, D) embeddings, names and reports.

    Raises:
        ValueError: No class, a duplicated name, a class lacking what its
            use needs, or text needed but no ``text`` given (one line each).
    """
    if not specs:
        raise ValueError('empty vocabulary: give text classes or an '
                         'exemplar file')
    names = [s.name for s in specs]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f'duplicated class names {duplicated}')
    aggregates: Dict[str, Optional[ClassAggregate]] = {}
    for spec in specs:
        agg = None
        if prompts is not None and spec.use != TEXT:
            agg = aggregate_class(prompts, spec.name, min_cosine, mad_z,
                                  min_gap)
        _check_spec(spec, agg, prompts)
        aggregates[spec.name] = agg
    flat = [p for s in specs if s.use != EXEMPLARS for p in s.prompts]
    if flat and text is None:
        raise ValueError('text classes need a text encoder (or precomputed '
                         'text embeddings)')
    encoded = iter(_text_embeddings(text, flat) if flat else ())
    rows, reports = [], []
    for spec in specs:
        agg = aggregates[spec.name]
        parts = []
        if spec.use != EXEMPLARS:
            text_mean = np.mean([next(encoded) for _ in spec.prompts], 0)
            parts.append(l2_normalize(text_mean))
        if agg is not None:
            parts.append(l2_normalize(agg.embedding))
        rows.append(l2_normalize(np.sum(parts, axis=0)))
        reports.append(
            ClassReport(spec.name, spec.use,
                        spec.prompts if spec.use != EXEMPLARS else (), agg))
    embeddings = np.stack(rows).astype(np.float32)
    return MixedVocabulary(embeddings, names, reports)
