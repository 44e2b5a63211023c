# Copyright (c) mmioc_rtvp contributors. All rights reserved.
from .exemplar_prompt_encoder import ExemplarPromptEncoder, box_masks
from .exemplar_swap import ExemplarSwap, plan_exemplar_swap

__all__ = [
    'ExemplarPromptEncoder', 'box_masks', 'ExemplarSwap', 'plan_exemplar_swap'
]
