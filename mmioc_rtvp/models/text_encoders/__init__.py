# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Frozen, swappable text encoders: ``texts (B, K) -> (B, K, D)``.

Every encoder returns L2-normalised embeddings; the padding prompt ``''``
maps to an all-zero vector (a class that never matches).
"""
from .base import PAD_PROMPT, BaseTextEncoder
from .hf_clip import HFCLIPTextEncoder
from .minilm import MiniLMTextEncoder
from .precomputed import PrecomputedTextEncoder, load_text_embeddings

__all__ = [
    'PAD_PROMPT', 'BaseTextEncoder', 'HFCLIPTextEncoder', 'MiniLMTextEncoder',
    'PrecomputedTextEncoder', 'load_text_embeddings'
]
