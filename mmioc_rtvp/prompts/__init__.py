# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Class prompts that are not text: exemplar and tuned embeddings.

The lowest room of the prompt side, shared by the PyTorch inferencer, the
onnxruntime runner and the web demo. It imports numpy and the standard
library only (the onnxruntime runner must run without PyTorch):

- :mod:`~mmioc_rtvp.prompts.embeddings_file`: the ``.npz`` file of
  embeddings, manifest and model fingerprint, written and read here only.
"""
from .embeddings_file import (EXEMPLAR, FORMAT_VERSION, KINDS, TUNED,
                              PromptEmbeddings, PromptEmbeddingsError,
                              PromptRecord, check_prompt_embeddings_model,
                              load_prompt_embeddings, save_prompt_embeddings)

__all__ = [
    'EXEMPLAR', 'FORMAT_VERSION', 'KINDS', 'TUNED', 'PromptEmbeddings',
    'PromptEmbeddingsError', 'PromptRecord', 'check_prompt_embeddings_model',
    'load_prompt_embeddings', 'save_prompt_embeddings'
]
