# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Which prompts of a training batch are replaced by exemplars."""
from typing import List, NamedTuple, Optional, Sequence

import torch
from torch import Tensor


class ExemplarSwap(NamedTuple):
    """M prompt slots whose text embedding is replaced by an exemplar.

    Attributes:
        slot_batch (Tensor): (M,) image whose prompt list holds the slot.
        slot_index (Tensor): (M,) position of the slot in that list (K).
        src_batch (Tensor): (M,) another image holding a box of the class.
        src_boxes (Tensor): (M, 4) that box, xyxy in input pixels.
    """
    slot_batch: Tensor
    slot_index: Tensor
    src_batch: Tensor
    src_boxes: Tensor

    def __len__(self) -> int:
        return int(self.slot_batch.numel())


def plan_exemplar_swap(texts: Sequence[Sequence[str]],
                       gt_batch: Tensor,
                       gt_labels: Tensor,
                       gt_boxes: Tensor,
                       prob: float,
                       generator: Optional[torch.Generator] = None
                       ) -> ExemplarSwap:
    """Draw the slots to replace and, for each, a box from another image.

    Every slot ``(b, k)`` whose prompt ``texts[b][k]`` is not padding
    (``''``) and is the class of a ground-truth box in another image
    ``b' != b`` is replaced with probability ``prob``; its exemplar is one
    of those boxes, drawn uniformly. Taking the exemplar from another image
    is what a user does (the reference image is not the inspected one), and
    it also covers classes absent from image ``b`` (negatives).

    Args:
        texts (Sequence[Sequence[str]]): B lists of K prompts.
        gt_batch (Tensor): (G,) image of each ground-truth box.
        gt_labels (Tensor): (G,) class of each box, indexing its image's
            prompt list.
        gt_boxes (Tensor): (G, 4) xyxy boxes in input pixels.
        prob (float): Replacement probability of an eligible slot.
        generator (torch.Generator, optional): Random source (CPU).

    Returns:
        ExemplarSwap: The M chosen slots and their exemplars.
    """
    boxes_of = {}  # text -> list of (image, box row)
    for row, (b, label) in enumerate(
            zip(gt_batch.tolist(), gt_labels.long().tolist())):
        text = texts[b][label]
        if text:
            boxes_of.setdefault(text, []).append((b, row))
    slot_b: List[int] = []
    slot_k: List[int] = []
    src_b: List[int] = []
    src_row: List[int] = []
    for b, prompts in enumerate(texts):
        for k, text in enumerate(prompts):
            candidates = [c for c in boxes_of.get(text, ()) if c[0] != b]
            if not text or not candidates:
                continue
            if torch.rand((), generator=generator).item() >= prob:
                continue
            pick = int(torch.randint(len(candidates), (),
                                     generator=generator))
            slot_b.append(b)
            slot_k.append(k)
            src_b.append(candidates[pick][0])
            src_row.append(candidates[pick][1])
    device = gt_boxes.device

    def as_long(values: List[int]) -> Tensor:
        return torch.tensor(values, dtype=torch.long, device=device)

    return ExemplarSwap(
        as_long(slot_b), as_long(slot_k), as_long(src_b),
        gt_boxes[as_long(src_row)].reshape(-1, 4))
