# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""RTVPNet VQA: image + question -> RTVPNet detections -> a structured
prompt -> a frozen causal language model (paper section 4.7).

Imported by the project's configs through ``custom_imports``; registers
:class:`FrozenCausalLM` (``MODELS``) and :class:`VQAExactMatch`
(``METRICS``) in the ``mmioc_rtvp`` scope.
"""
from .category_hierarchy import CategoryHierarchy, CategoryInfo
from .detection import (LOCATIONS, BadInputError, Detection, ImageDetections,
                        location_of)
from .detection_vqa import DetectionVQA, VQAResult
from .frozen_causal_lm import (PAPER_LM, FrozenCausalLM, LMAnswer,
                               resolve_lm_dir)
from .qa_set import TEMPLATES, make_qa_set
from .question import (CHECKABLE_TYPES, ParsedQuestion, normalise,
                       parse_question)
from .rtvpnet_detections import RTVPNetDetections
from .rule_answerer import rule_answer
from .structured_prompt_builder import StructuredPromptBuilder
from .vqa_exact_match import VQAExactMatch

__all__ = [
    'BadInputError', 'CHECKABLE_TYPES', 'CategoryHierarchy', 'CategoryInfo',
    'Detection', 'DetectionVQA', 'FrozenCausalLM', 'ImageDetections',
    'LMAnswer', 'LOCATIONS', 'PAPER_LM', 'ParsedQuestion',
    'RTVPNetDetections', 'StructuredPromptBuilder', 'TEMPLATES',
    'VQAExactMatch', 'VQAResult', 'location_of', 'make_qa_set', 'normalise',
    'parse_question', 'resolve_lm_dir', 'rule_answer'
]
