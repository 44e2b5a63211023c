# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Exemplar files: boxes on reference images -> class embeddings on disk.

Each reference image runs through the model's test pipeline (the resizing
and padding of inference; the boxes follow the same transforms) and the
data preprocessor; the model's exemplar encoder
(``model.encode_exemplars``) turns its boxes into unit embeddings in the
text-embedding space. The embeddings, a manifest (class, image, box) and
the model's fingerprint go to one file
(:mod:`mmioc_rtvp.prompts.embeddings_file`), which the inferencer,
``tools/infer.py``, the onnxruntime backend, OK/NG calibration and the web
demo read. A reference that cannot be used (unreadable image, box outside
the image or of zero area) is refused with one line; the others are kept.
"""
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
from mmengine.dataset import Compose

from mmioc_rtvp.prompts import (EXEMPLAR, PromptEmbeddings, PromptRecord,
                                aggregate_class, load_prompt_embeddings,
                                save_prompt_embeddings)
from mmioc_rtvp.prompts.exemplar_refs import (ExemplarRef, check_box,
                                              read_exemplar_refs)
from .inference_inputs import MAX_IMAGE_PIXELS, read_image
from .model_fingerprint import model_fingerprint, text_embed_dim
from .support_images import support_batch, support_pipeline

#: Recorded in the files this module writes.
TOOL = 'tools/make_exemplars.py'


@dataclass
class EncodedExemplars:
    """Embeddings of the usable references, and the refused ones.

    Attributes:
        embeddings (np.ndarray): (n, D) float32 unit rows.
        records (list[PromptRecord]): n records (boxes clipped to the
            image, original pixels).
        refused (list[str]): One line per refused reference.
        classes (list[str]): Every class named by a reference, in order.
    """
    embeddings: np.ndarray
    records: List[PromptRecord]
    refused: List[str] = field(default_factory=list)
    classes: List[str] = field(default_factory=list)

    @property
    def classes_without_exemplar(self) -> List[str]:
        """Classes all of whose references were refused."""
        kept = {r.class_name for r in self.records}
        return [c for c in self.classes if c not in kept]


def encode_image_boxes(model: nn.Module,
                       image: np.ndarray,
                       boxes: np.ndarray,
                       pipeline: Optional[Compose] = None) -> np.ndarray:
    """Exemplar embeddings of boxes on one decoded reference image.

    Args:
        model (nn.Module): A detector with an exemplar encoder, in eval
            mode, with ``cfg`` attached unless ``pipeline`` is given.
        image (np.ndarray): (H, W, 3) BGR uint8.
        boxes (np.ndarray): (n, 4) xyxy in original pixels, already
            checked (:func:`~mmioc_rtvp.prompts.exemplar_refs.check_box`).
        pipeline (Compose, optional): Defaults to
            :func:`~.support_images.support_pipeline` of ``model.cfg``.

    Returns:
        np.ndarray: (n, D) float32 unit embeddings, in the order of
        ``boxes``.
    """
    if pipeline is None:
        pipeline = support_pipeline(model.cfg)
    batch = support_batch(model, [image], [boxes],
                          [np.arange(len(boxes))], pipeline)
    rows = batch.bboxes_labels
    if rows.shape[0] != len(boxes):
        raise ValueError(f'the test pipeline kept {rows.shape[0]} of '
                         f'{len(boxes)} boxes')
    order = torch.argsort(rows[:, 1])  # labels are the input order
    with torch.no_grad():
        embeds = model.encode_exemplars(batch.inputs, [rows[order, 2:6]])
    return embeds.float().cpu().numpy()


def encode_exemplar_refs(model: nn.Module,
                         refs: Sequence[ExemplarRef],
                         pipeline: Optional[Compose] = None,
                         max_pixels: int = MAX_IMAGE_PIXELS
                         ) -> EncodedExemplars:
    """Encode exemplar boxes, one reference image at a time.

    Args:
        model (nn.Module): A detector with an exemplar encoder, in eval
            mode, with ``cfg`` attached (:func:`~.build_detector`).
        refs (Sequence[ExemplarRef]): The references
            (:func:`~mmioc_rtvp.prompts.exemplar_refs.read_exemplar_refs`).
        pipeline (Compose, optional): Defaults to the config's test
            pipeline with boxes (:func:`~.support_images.support_pipeline`).
        max_pixels (int): Larger images are refused.

    Returns:
        EncodedExemplars: ``len(records) + len(refused) == len(refs)``.
    """
    if pipeline is None:
        pipeline = support_pipeline(model.cfg)
    by_image = OrderedDict()
    for ref in refs:
        by_image.setdefault(ref.image, []).append(ref)
    dim = text_embed_dim(model) or 0
    rows, records, refused = [], [], []
    for image_path, group in by_image.items():
        try:
            image = read_image(image_path, max_pixels)
        except OSError as err:
            refused += [f'{r.where}: image {image_path} cannot be read '
                        f'({err})' for r in group]
            continue
        kept, boxes = [], []
        for ref in group:
            try:
                boxes.append(check_box(ref.box, image.shape[1],
                                       image.shape[0]))
                kept.append(ref)
            except ValueError as err:
                refused.append(f'{ref.where}: {image_path}: {err}')
        if not kept:
            continue
        rows.append(encode_image_boxes(model, image,
                                       np.asarray(boxes, np.float32),
                                       pipeline))
        records += [
            PromptRecord(r.class_name, EXEMPLAR, image_path, box)
            for r, box in zip(kept, boxes)
        ]
    embeddings = (np.concatenate(rows) if rows else np.zeros(
        (0, dim), np.float32))
    classes = list(dict.fromkeys(r.class_name for r in refs))
    return EncodedExemplars(embeddings, records, refused, classes)


@dataclass
class ExemplarFileReport:
    """What :func:`make_exemplar_file` did.

    Attributes:
        given (int): References in the list.
        written (int): Exemplars written (new ones).
        refused (list[str]): One line per refused reference.
        classes_without_exemplar (list[str]): Classes left with none.
        prompts (PromptEmbeddings, optional): The file written (None when
            nothing was written).
        summary (list[str]): Per class: exemplars used, outliers.
    """
    given: int
    written: int
    refused: List[str]
    classes_without_exemplar: List[str]
    prompts: Optional[PromptEmbeddings] = None
    summary: List[str] = field(default_factory=list)

    def lines(self) -> List[str]:
        """The report as printed by ``tools/make_exemplars.py``."""
        out = list(self.refused)
        out += [f'class {c!r}: no exemplar (all its references were '
                'refused)' for c in self.classes_without_exemplar]
        out += self.summary
        out.append(f'{self.written} exemplar(s) written, '
                   f'{len(self.refused)} refused, of {self.given} given')
        return out


def class_summary(prompts: PromptEmbeddings) -> List[str]:
    """One line per class of a file: exemplars kept, outliers, warnings."""
    lines = []
    for name in prompts.class_names:
        agg = aggregate_class(prompts, name)
        total = len(agg.inliers) + len(agg.outliers)
        line = f'class {name!r}: {agg.kind}'
        if agg.kind == EXEMPLAR:
            line += f', {len(agg.inliers)} of {total} exemplar(s) used'
        for row, cos in agg.outliers:
            line += (f'; outlier record {row} '
                     f'({prompts.records[row].describe()}, leave-one-out '
                     f'cosine {cos:.2f}) excluded')
        lines.append(line)
        lines += agg.warnings
    return lines


def make_exemplar_file(model: nn.Module,
                       refs_file: str,
                       out: str,
                       append_to: Optional[str] = None,
                       max_pixels: int = MAX_IMAGE_PIXELS
                       ) -> ExemplarFileReport:
    """Encode a reference list and write the exemplar file.

    Args:
        model (nn.Module): See :func:`encode_exemplar_refs`.
        refs_file (str): ``.json`` / ``.csv`` reference list
            (:mod:`mmioc_rtvp.prompts.exemplar_refs`).
        out (str): The ``.npz`` file to write.
        append_to (str, optional): An existing file of the same model whose
            entries come first in ``out``. It is checked before any
            encoding: a file of another model is refused.
        max_pixels (int): Larger reference images are refused.

    Returns:
        ExemplarFileReport: Counts reconcile: ``written + len(refused) ==
        given``. Nothing is written when no reference is usable.

    Raises:
        PromptEmbeddingsError: ``append_to`` is of another model.
        ValueError: The reference list itself is unreadable.
    """
    fingerprint = model_fingerprint(model)
    dim = text_embed_dim(model)
    base = None
    if append_to is not None:
        base = load_prompt_embeddings(append_to, fingerprint, dim)
    refs, unparsed = read_exemplar_refs(refs_file)
    encoded = encode_exemplar_refs(model, refs, max_pixels=max_pixels)
    report = ExemplarFileReport(
        len(refs) + len(unparsed), len(encoded.records),
        unparsed + encoded.refused, encoded.classes_without_exemplar)
    if not encoded.records:
        return report
    new = PromptEmbeddings(encoded.embeddings, encoded.records, fingerprint,
                           TOOL)
    prompts = new if base is None else base.concat(new)
    report.prompts = save_prompt_embeddings(out, prompts.embeddings,
                                            prompts.records, fingerprint,
                                            TOOL)
    report.summary = class_summary(report.prompts)
    return report
