# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The prompt-embeddings file: class embeddings that are not text.

One ``.npz`` file (read with ``allow_pickle=False``) holds three arrays:

- ``embeddings``: (N, D) float32, one row per entry;
- ``manifest``: a JSON string, a list of N records ``{"class": name,
  "kind": "exemplar" | "tuned", "source": reference image path or null,
  "box": [x1, y1, x2, y2] in original-image pixels or null, "note": text
  or null}``;
- ``meta``: a JSON string ``{"format_version", "fingerprint", "embed_dims",
  "tool"}``. The fingerprint names the model that made the embeddings
  (:func:`mmioc_rtvp.apis.model_fingerprint.model_fingerprint`, also written
  into exported ONNX files): embeddings only mean something to that model.

Rows of the kind ``exemplar`` are boxes encoded by the model's exemplar
encoder (several per class are aggregated at use,
:mod:`~mmioc_rtvp.prompts.exemplar_aggregation`); rows of the kind
``tuned`` are learned class embeddings (few-shot prompt tuning), used as
they are. Only numpy and the standard library are imported here.
"""
import json
import math
import os
import os.path as osp
import tempfile
import zipfile
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

#: Version of the file layout written by :func:`save_prompt_embeddings`.
FORMAT_VERSION = 1
#: Kinds of entries.
EXEMPLAR = 'exemplar'
TUNED = 'tuned'
KINDS = (EXEMPLAR, TUNED)
#: Array names inside the ``.npz`` file.
ARRAYS = ('embeddings', 'manifest', 'meta')


class PromptEmbeddingsError(ValueError):
    """A prompt-embeddings file that cannot be used (one-line message)."""


@dataclass(frozen=True)
class PromptRecord:
    """What one embedding row is.

    Attributes:
        class_name (str): The class it describes.
        kind (str): ``'exemplar'`` (an encoded box) or ``'tuned'`` (a
            learned embedding).
        source (str, optional): The reference image (exemplars) or the
            support set it was learned from.
        box (tuple[float, float, float, float], optional): xyxy in the
            original pixels of ``source`` (exemplars), else None.
        note (str, optional): Free text.
    """
    class_name: str
    kind: str = EXEMPLAR
    source: Optional[str] = None
    box: Optional[Tuple[float, float, float, float]] = None
    note: Optional[str] = None

    def to_json(self) -> Dict[str, Any]:
        """The manifest entry."""
        return {
            'class': self.class_name,
            'kind': self.kind,
            'source': self.source,
            'box': None if self.box is None else [float(v) for v in self.box],
            'note': self.note
        }

    def describe(self) -> str:
        """``class 'hole' (scratch.png [1, 2, 30, 40])`` for messages."""
        where = self.source or self.kind
        if self.box is not None:
            where += ' [' + ', '.join(f'{v:g}' for v in self.box) + ']'
        return f'class {self.class_name!r} ({where})'


def _record_from_json(entry: Any, where: str) -> PromptRecord:
    """Parse and check one manifest entry; ``where`` prefixes errors."""
    if not isinstance(entry, dict):
        raise PromptEmbeddingsError(
            f'{where}: expected an object, got {type(entry).__name__}')
    name = entry.get('class')
    if not isinstance(name, str) or not name.strip():
        raise PromptEmbeddingsError(
            f'{where}: "class" must be a non-empty string, got {name!r}')
    kind = entry.get('kind')
    if kind not in KINDS:
        raise PromptEmbeddingsError(
            f'{where}: "kind" must be one of {list(KINDS)}, got {kind!r}')
    source = entry.get('source')
    if source is not None and not isinstance(source, str):
        raise PromptEmbeddingsError(
            f'{where}: "source" must be a path or null, got {source!r}')
    box = entry.get('box')
    if box is not None:
        if not (isinstance(box, (list, tuple)) and len(box) == 4
                and all(isinstance(v, (int, float)) and math.isfinite(v)
                        for v in box)):
            raise PromptEmbeddingsError(
                f'{where}: "box" must be [x1, y1, x2, y2] or null, got '
                f'{box!r}')
        box = tuple(float(v) for v in box)
    note = entry.get('note')
    if note is not None and not isinstance(note, str):
        raise PromptEmbeddingsError(
            f'{where}: "note" must be text or null, got {note!r}')
    return PromptRecord(name.strip(), kind, source, box, note)


@dataclass
class PromptEmbeddings:
    """N embeddings with their manifest and the model they belong to.

    Attributes:
        embeddings (np.ndarray): (N, D) float32.
        records (list[PromptRecord]): N records, row by row.
        fingerprint (str): The model that made the embeddings.
        tool (str): What wrote the file (e.g. ``'tools/make_exemplars.py'``).
        format_version (int): Layout version.
    """
    embeddings: np.ndarray
    records: List[PromptRecord]
    fingerprint: str
    tool: str = ''
    format_version: int = FORMAT_VERSION
    path: Optional[str] = field(default=None, compare=False)

    def __post_init__(self) -> None:
        self.embeddings = np.asarray(self.embeddings, dtype=np.float32)
        self.records = list(self.records)
        _check_contents(self.path or '<prompt embeddings>', self.embeddings,
                        self.records, self.fingerprint)

    @property
    def dim(self) -> int:
        """D, the embedding width."""
        return int(self.embeddings.shape[1])

    def __len__(self) -> int:
        return len(self.records)

    @property
    def class_names(self) -> List[str]:
        """The classes of the file, in order of first appearance."""
        return list(dict.fromkeys(r.class_name for r in self.records))

    def rows_of(self, class_name: str) -> List[int]:
        """Row indices of a class's entries."""
        return [
            i for i, r in enumerate(self.records) if r.class_name == class_name
        ]

    def meta(self) -> Dict[str, Any]:
        """The ``meta`` array's content."""
        return {
            'format_version': self.format_version,
            'fingerprint': self.fingerprint,
            'embed_dims': self.dim,
            'tool': self.tool
        }

    def concat(self, other: 'PromptEmbeddings') -> 'PromptEmbeddings':
        """This file's entries followed by ``other``'s (same model only)."""
        if other.fingerprint != self.fingerprint or other.dim != self.dim:
            raise PromptEmbeddingsError(
                f'{other.path or "<prompt embeddings>"}: made by another '
                f'model ({_short(other.fingerprint)}, D={other.dim}) than '
                f'{self.path or "<prompt embeddings>"} '
                f'({_short(self.fingerprint)}, D={self.dim}); cannot merge')
        return PromptEmbeddings(
            np.concatenate([self.embeddings, other.embeddings]),
            self.records + other.records, self.fingerprint, self.tool)


def _short(fingerprint: str) -> str:
    """The first 12 characters of a fingerprint's digest."""
    return fingerprint.split(':', 1)[-1][:12]


def _check_contents(path: str, embeddings: np.ndarray,
                    records: Sequence[PromptRecord],
                    fingerprint: Any) -> None:
    """Refuse inconsistent contents; messages name the file and record."""
    if not isinstance(fingerprint, str) or not fingerprint:
        raise PromptEmbeddingsError(
            f'{path}: the model fingerprint is missing (got {fingerprint!r})')
    if embeddings.ndim != 2 or embeddings.shape[1] == 0:
        raise PromptEmbeddingsError(
            f'{path}: embeddings must be (N, D), got '
            f'{tuple(embeddings.shape)}')
    if embeddings.shape[0] != len(records):
        raise PromptEmbeddingsError(
            f'{path}: {embeddings.shape[0]} embeddings but {len(records)} '
            f'manifest records')
    for i, record in enumerate(records):
        if record.kind not in KINDS:
            raise PromptEmbeddingsError(
                f'{path}: record {i} ({record.describe()}): kind must be one '
                f'of {list(KINDS)}, got {record.kind!r}')
    finite = np.isfinite(embeddings).all(axis=1)
    norms = np.linalg.norm(np.where(finite[:, None], embeddings, 0), axis=1)
    for i in np.flatnonzero(~finite | (norms == 0)).tolist():
        what = 'NaN or Inf values' if not finite[i] else 'a zero vector'
        raise PromptEmbeddingsError(
            f'{path}: record {i} ({records[i].describe()}): the embedding '
            f'holds {what}')


def save_prompt_embeddings(path: str,
                           embeddings: np.ndarray,
                           records: Sequence[PromptRecord],
                           fingerprint: str,
                           tool: str = '') -> PromptEmbeddings:
    """Write a prompt-embeddings file atomically (temporary file + rename).

    Args:
        path (str): The ``.npz`` file; parent directories are created.
        embeddings (np.ndarray): (N, D) embeddings (torch tensors: pass
            ``t.detach().cpu().numpy()``).
        records (Sequence[PromptRecord]): N records, row by row.
        fingerprint (str): The model's fingerprint.
        tool (str): What writes the file.

    Returns:
        PromptEmbeddings: What was written.

    Raises:
        PromptEmbeddingsError: Inconsistent contents (nothing is written).
    """
    prompts = PromptEmbeddings(embeddings, records, fingerprint, tool,
                               path=path)
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix='.' + osp.basename(path), suffix='.tmp', dir=directory)
    try:
        with os.fdopen(fd, 'wb') as f:
            np.savez(
                f,
                embeddings=prompts.embeddings,
                manifest=np.array(
                    json.dumps([r.to_json() for r in prompts.records],
                               ensure_ascii=False)),
                meta=np.array(json.dumps(prompts.meta())))
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    return prompts


def _read_json_array(path: str, arrays: Mapping[str, np.ndarray],
                     name: str) -> Any:
    """Decode a 0-d string array holding JSON."""
    value = arrays[name]
    if value.ndim != 0 or value.dtype.kind != 'U':
        raise PromptEmbeddingsError(
            f'{path}: array {name!r} must be a JSON string, got '
            f'{value.dtype} {tuple(value.shape)}')
    try:
        return json.loads(str(value))
    except ValueError as err:
        raise PromptEmbeddingsError(
            f'{path}: array {name!r} is not valid JSON ({err})') from None


def _read_arrays(path: str) -> Dict[str, np.ndarray]:
    """The three arrays of the file, or a one-line refusal."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'prompt embeddings file {path} does not '
                                'exist')
    if not zipfile.is_zipfile(path):
        raise PromptEmbeddingsError(
            f'{path}: not a prompt embeddings file (not a .npz archive)')
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [a for a in ARRAYS if a not in npz.files]
            if missing:
                raise PromptEmbeddingsError(
                    f'{path}: not a prompt embeddings file (missing arrays '
                    f'{missing}; expected {list(ARRAYS)})')
            return {a: npz[a] for a in ARRAYS}
    except PromptEmbeddingsError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise PromptEmbeddingsError(
            f'{path}: not a readable .npz file ({err})') from None


def load_prompt_embeddings(path: str,
                           fingerprint: Optional[str] = None,
                           dim: Optional[int] = None) -> PromptEmbeddings:
    """Read a prompt-embeddings file and check it belongs to the model.

    Args:
        path (str): The ``.npz`` file.
        fingerprint (str, optional): The fingerprint of the model that will
            use the embeddings; a file of another model is refused. None
            skips the check.
        dim (int, optional): The embedding width D the model expects.

    Returns:
        PromptEmbeddings: The entries.

    Raises:
        FileNotFoundError: No such file.
        PromptEmbeddingsError: A malformed file, or one of another model
            or width (the message is one line naming the file and, for a
            bad entry, its record).
    """
    arrays = _read_arrays(path)
    meta = _read_json_array(path, arrays, 'meta')
    if not isinstance(meta, dict):
        raise PromptEmbeddingsError(f'{path}: "meta" must be a JSON object')
    version = meta.get('format_version')
    if version != FORMAT_VERSION:
        raise PromptEmbeddingsError(
            f'{path}: format version {version!r}, this reader knows '
            f'{FORMAT_VERSION}')
    manifest = _read_json_array(path, arrays, 'manifest')
    if not isinstance(manifest, list):
        raise PromptEmbeddingsError(f'{path}: "manifest" must be a JSON list')
    records = [
        _record_from_json(entry, f'{path}: record {i}')
        for i, entry in enumerate(manifest)
    ]
    embeddings = arrays['embeddings']
    if embeddings.dtype.kind != 'f':
        raise PromptEmbeddingsError(
            f'{path}: embeddings must be floats, got {embeddings.dtype}')
    prompts = PromptEmbeddings(embeddings, records,
                               meta.get('fingerprint'),
                               str(meta.get('tool', '')), version, path=path)
    if meta.get('embed_dims') != prompts.dim:
        raise PromptEmbeddingsError(
            f'{path}: meta says D={meta.get("embed_dims")!r} but the '
            f'embeddings are {tuple(prompts.embeddings.shape)}')
    check_prompt_embeddings_model(prompts, fingerprint, dim)
    return prompts


def check_prompt_embeddings_model(prompts: PromptEmbeddings,
                                  fingerprint: Optional[str] = None,
                                  dim: Optional[int] = None) -> None:
    """Refuse embeddings of another model or width.

    Args:
        prompts (PromptEmbeddings): The loaded file.
        fingerprint (str, optional): The using model's fingerprint.
        dim (int, optional): The using model's D.

    Raises:
        PromptEmbeddingsError: Another width, or another model.
    """
    path = prompts.path or '<prompt embeddings>'
    if dim is not None and prompts.dim != int(dim):
        raise PromptEmbeddingsError(
            f'{path}: embeddings of width D={prompts.dim}, the model '
            f'expects D={int(dim)}; make the file with this model')
    if fingerprint is not None and prompts.fingerprint != fingerprint:
        raise PromptEmbeddingsError(
            f'{path}: made by another model (fingerprint '
            f'{_short(prompts.fingerprint)}, this model is '
            f'{_short(fingerprint)}); make the file again with this '
            f'checkpoint (tools/make_exemplars.py or tools/prompt_tune.py)')
