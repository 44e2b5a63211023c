# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The server's exemplar classes: a bounded in-memory prompt-embeddings set.

Boxes drawn on the page are encoded by the model and kept here (with the
entries of an ``--exemplars`` file given at start); every prediction reads
a snapshot of the set as a prompt-embeddings file
(:class:`mmioc_rtvp.prompts.PromptEmbeddings`), so the page, the inferencer
and ``tools/infer.py`` aggregate exemplars and mix vocabularies the same
way. Only numpy and :mod:`mmioc_rtvp.prompts` are used here.
"""
import itertools
import threading
from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np

from mmioc_rtvp.prompts import (PromptEmbeddings, PromptRecord,
                                aggregate_class, check_prompt_embeddings_model,
                                load_prompt_embeddings)
from .errors import InputRejected

#: Where an entry came from.
FROM_FILE = 'file'
FROM_PAGE = 'page'


@dataclass(frozen=True)
class ExemplarEntry:
    """One entry of the set.

    Attributes:
        id (int): Stable identifier (for deletion).
        record (PromptRecord): Class, kind, source image and box.
        embedding (np.ndarray): (D,) float32 unit embedding.
        origin (str): ``'file'`` (``--exemplars``) or ``'page'``.
    """
    id: int
    record: PromptRecord
    embedding: np.ndarray
    origin: str


class ExemplarSet:
    """Exemplar / tuned class embeddings of one model, bounded, thread-safe.

    Args:
        fingerprint (str): The model's fingerprint (every entry is the
            model's own).
        dim (int): D, the model's class-embedding width.
        max_classes (int): Most classes in the set.
        max_exemplars (int): Most entries in the set.
    """

    def __init__(self, fingerprint: str, dim: int, max_classes: int = 16,
                 max_exemplars: int = 64) -> None:
        if min(max_classes, max_exemplars) < 1:
            raise ValueError('max_classes and max_exemplars must be >= 1')
        self.fingerprint = fingerprint
        self.dim = int(dim)
        self.max_classes = max_classes
        self.max_exemplars = max_exemplars
        self.source_path: Optional[str] = None
        self._entries: List[ExemplarEntry] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._snapshot: Optional[PromptEmbeddings] = None

    @classmethod
    def from_file(cls, path: str, fingerprint: str, dim: int,
                  max_classes: int = 16,
                  max_exemplars: int = 64) -> 'ExemplarSet':
        """A set holding the entries of a prompt-embeddings file.

        Raises:
            FileNotFoundError: No such file.
            PromptEmbeddingsError: A malformed file, or one of another model
                or width (one line naming the file).
            ValueError: More classes or entries than the bounds.
        """
        prompts = load_prompt_embeddings(path, fingerprint, dim)
        if (len(prompts.class_names) > max_classes
                or len(prompts) > max_exemplars):
            raise ValueError(
                f'{path}: {len(prompts.class_names)} classes and '
                f'{len(prompts)} entries, the demo holds at most '
                f'{max_classes} classes and {max_exemplars} entries '
                '(--max-exemplar-classes, --max-exemplars)')
        out = cls(fingerprint, dim, max_classes, max_exemplars)
        out.source_path = path
        for record, row in zip(prompts.records, prompts.embeddings):
            out._entries.append(
                ExemplarEntry(next(out._ids), record, row, FROM_FILE))
        return out

    def __len__(self) -> int:
        return len(self._entries)

    def check_room(self, class_name: str) -> None:
        """Refuse (409) an entry of ``class_name`` the bounds leave no room
        for (checked before the box is encoded, and again when added)."""
        classes = {e.record.class_name for e in self._entries}
        if len(self._entries) >= self.max_exemplars:
            raise InputRejected(
                f'{len(self._entries)} exemplars already: at most '
                f'{self.max_exemplars}; delete some first', status=409)
        if class_name not in classes and len(classes) >= self.max_classes:
            raise InputRejected(
                f'{len(classes)} exemplar classes already: at most '
                f'{self.max_classes}; add {class_name!r} after deleting a '
                'class', status=409)

    def add(self, record: PromptRecord, embedding: np.ndarray,
            origin: str = FROM_PAGE) -> ExemplarEntry:
        """Add one encoded box (or tuned embedding).

        Args:
            record (PromptRecord): What it is.
            embedding (np.ndarray): (D,) the model's embedding.
            origin (str): ``'page'`` or ``'file'``.

        Returns:
            ExemplarEntry: The new entry.

        Raises:
            InputRejected: No room (409).
            PromptEmbeddingsError: A row of another width, or not finite.
        """
        embedding = np.asarray(embedding, np.float32).reshape(-1)
        # the same checks as a file's rows (width, finite, non-zero)
        check_prompt_embeddings_model(
            PromptEmbeddings(embedding[None], [record], self.fingerprint),
            self.fingerprint, self.dim)
        with self._lock:
            self.check_room(record.class_name)
            entry = ExemplarEntry(next(self._ids), record, embedding, origin)
            self._entries.append(entry)
            self._snapshot = None
        return entry

    def remove(self, entry_id: int) -> ExemplarEntry:
        """Delete one entry; 404 when there is none of that id."""
        with self._lock:
            for i, entry in enumerate(self._entries):
                if entry.id == entry_id:
                    del self._entries[i]
                    self._snapshot = None
                    return entry
        raise InputRejected(f'no exemplar {entry_id}', status=404)

    def clear(self) -> int:
        """Delete every entry; returns how many there were."""
        with self._lock:
            count = len(self._entries)
            self._entries = []
            self._snapshot = None
        return count

    def snapshot(self) -> Optional[PromptEmbeddings]:
        """The set as a prompt-embeddings file (None when empty).

        The same object is returned until the set changes, so a reader can
        tell a changed set by identity.
        """
        with self._lock:
            return self._current()

    def _current(self) -> Optional[PromptEmbeddings]:
        """:meth:`snapshot`, the lock held."""
        if self._snapshot is None and self._entries:
            self._snapshot = PromptEmbeddings(
                np.stack([e.embedding for e in self._entries]),
                [e.record for e in self._entries], self.fingerprint,
                'projects/web_demo', path='the exemplars of the demo')
        return self._snapshot

    def describe(self) -> Dict[str, object]:
        """What ``GET /api/exemplars`` answers.

        ``exemplars``: one item per entry in order (``record`` is its row in
        the messages), with ``used`` / ``outlier`` / ``loo_cosine`` from
        the robust aggregation; ``classes``: per class, entries used and
        excluded, and unresolved disagreements.
        """
        with self._lock:
            entries, prompts = list(self._entries), self._current()
        items, classes = [], []
        flags: Dict[int, dict] = {}
        for name in (prompts.class_names if prompts is not None else []):
            agg = aggregate_class(prompts, name)
            rows = prompts.rows_of(name)
            loo = dict(zip([r for r in rows
                            if prompts.records[r].kind == agg.kind],
                           agg.loo_cosines))
            for row in rows:
                flags[row] = dict(
                    used=row in agg.inliers,
                    outlier=row in dict(agg.outliers),
                    loo_cosine=(None if row not in loo else
                                round(loo[row], 4)))
            classes.append(dict(
                name=name, kind=agg.kind, used=len(agg.inliers),
                outliers=len(agg.outliers), entries=len(rows),
                warnings=list(agg.warnings)))
        for row, entry in enumerate(entries):
            rec = entry.record
            items.append(dict(
                id=entry.id, record=row, class_name=rec.class_name,
                kind=rec.kind, source=rec.source,
                box=None if rec.box is None else [float(v) for v in rec.box],
                origin=entry.origin, **flags.get(row, {})))
        return dict(exemplars=items, classes=classes,
                    max_classes=self.max_classes,
                    max_exemplars=self.max_exemplars,
                    file=self.source_path)
