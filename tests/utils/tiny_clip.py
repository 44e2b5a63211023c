# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""A tiny random CLIP in the official Hugging Face layout, for offline tests.

No CLIP weights can be obtained on the test machines; configs that use
``HFCLIPTextEncoder`` are built against this model instead.
"""
import string
from pathlib import Path

import torch
import transformers


def tiny_clip_parts(projection_dim: int = 24, max_positions: int = 16):
    """A tiny byte-level BPE CLIP tokenizer and the config of a tiny CLIP."""
    vocab = {}
    for suffix in ('', '</w>'):
        for char in string.ascii_lowercase:
            vocab[char + suffix] = len(vocab)
    merges = [('s', 'c'), ('sc', 'r'), ('m', 'e'), ('t', 'a'), ('ta', 'l</w>'),
              ('me', 'tal</w>')]
    for left, right in merges:
        vocab[left + right] = len(vocab)
    vocab['<|startoftext|>'] = len(vocab)
    vocab['<|endoftext|>'] = len(vocab)
    tokenizer = transformers.CLIPTokenizer(vocab=vocab, merges=merges)
    text_config = dict(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=max_positions,
        bos_token_id=vocab['<|startoftext|>'],
        eos_token_id=vocab['<|endoftext|>'],
        pad_token_id=vocab['<|endoftext|>'])
    vision_config = dict(
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=1,
        num_attention_heads=4,
        image_size=32,
        patch_size=16)
    config = transformers.CLIPConfig(
        text_config=text_config,
        vision_config=vision_config,
        projection_dim=projection_dim)
    return tokenizer, config


def save_tiny_clip(path, projection_dim: int = 512, seed: int = 0) -> Path:
    """Write a tiny ``CLIPModel`` + tokenizer to ``path`` (hub layout)."""
    tokenizer, config = tiny_clip_parts(projection_dim)
    torch.manual_seed(seed)
    model = transformers.CLIPModel(config).eval()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return Path(path)
