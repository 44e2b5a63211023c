# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Detections + question -> the text a frozen language model reads."""
import os.path as osp
from typing import Optional, Sequence

from .category_hierarchy import CategoryHierarchy
from .detection import ImageDetections


class StructuredPromptBuilder:
    """Render an image's detections and a question as a structured prompt.

    One line per detection (best first) carries the class, its MMIOC
    hierarchy (supercategory, scene), the box ``[x1, y1, x2, y2]`` in
    pixels, its coarse location and the score; the vocabulary the detector
    searched is listed so that "nothing found" is meaningful. When a
    deterministic answer exists it is given as a fact the model should
    keep (``include_rule_answer``).

    Args:
        max_detections (int): At most this many detections are listed (the
            rest are counted in one line). Defaults to 20.
        include_rule_answer (bool): Add the deterministic answer of a
            checkable question. Defaults to True.
        instruction (str): The task given to the model.
    """

    def __init__(self,
                 max_detections: int = 20,
                 include_rule_answer: bool = True,
                 instruction: str = (
                     'You are an industrial visual inspection assistant. '
                     'Answer the question about the image using only the '
                     'detections of the defect detector below. Be concise.')
                 ) -> None:
        if max_detections < 1:
            raise ValueError(f'max_detections must be >= 1, got '
                             f'{max_detections}')
        self.max_detections = max_detections
        self.include_rule_answer = include_rule_answer
        self.instruction = instruction

    def __call__(self,
                 image: ImageDetections,
                 question: str,
                 vocabulary: Sequence[str] = (),
                 hierarchy: Optional[CategoryHierarchy] = None,
                 rule_answer: Optional[str] = None) -> str:
        """Build the prompt.

        Args:
            image (ImageDetections): The detections of the image.
            question (str): The user's question.
            vocabulary (Sequence[str]): Classes the detector looked for.
            hierarchy (CategoryHierarchy, optional): Fills in the
                supercategory / scene of detections that lack them.
            rule_answer (str, optional): The deterministic answer.

        Returns:
            str: The prompt (plain text; a chat template is applied by the
            language model wrapper when its tokenizer has one).
        """
        lines = [
            self.instruction, '',
            f'Image: {osp.basename(image.image)} '
            f'({image.width} x {image.height} pixels).'
        ]
        if vocabulary:
            lines.append('Defect classes searched: ' + ', '.join(vocabulary)
                         + '.')
        dets = image.detections
        if not dets:
            lines.append('Detections: none (no defect was found).')
        else:
            lines.append(f'Detections ({len(dets)}, best first):')
        for i, det in enumerate(dets[:self.max_detections], 1):
            info = hierarchy.get(det.name) if hierarchy is not None else None
            supercategory = det.supercategory or (info and info.supercategory)
            scene = det.scene or (info and info.scene)
            box = ', '.join(f'{v:.0f}' for v in det.box)
            lines.append(
                f'{i}. {det.name} | supercategory: {supercategory or "-"} | '
                f'scene: {scene or "-"} | box [{box}] | '
                f'location: {image.location(det)} | score {det.score:.2f}')
        if len(dets) > self.max_detections:
            lines.append(f'... and {len(dets) - self.max_detections} more '
                         'detections with lower scores.')
        if rule_answer is not None and self.include_rule_answer:
            lines.append(f'Short answer computed from the detections: '
                         f'{rule_answer}.')
        lines += ['', f'Question: {question.strip()}', 'Answer:']
        return '\n'.join(lines)
