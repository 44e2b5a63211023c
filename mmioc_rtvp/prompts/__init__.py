# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Class prompts that are not text: exemplar and tuned embeddings.

The lowest room of the prompt side, shared by the PyTorch inferencer, the
onnxruntime runner and the web demo. It imports numpy and the standard
library only (the onnxruntime runner must run without PyTorch):

- :mod:`~mmioc_rtvp.prompts.embeddings_file`: the ``.npz`` file of
  embeddings, manifest and model fingerprint, written and read here only;
- :mod:`~mmioc_rtvp.prompts.exemplar_aggregation`: one class embedding from
  several exemplars, outliers excluded and reported;
- :mod:`~mmioc_rtvp.prompts.mixed_vocabulary`: classes described by text,
  exemplars or both.
"""
from .embeddings_file import (EXEMPLAR, FORMAT_VERSION, KINDS, TUNED,
                              PromptEmbeddings, PromptEmbeddingsError,
                              PromptRecord, check_prompt_embeddings_model,
                              load_prompt_embeddings, save_prompt_embeddings)
from .exemplar_aggregation import (ClassAggregate, aggregate_class,
                                   aggregate_exemplars)
from .mixed_vocabulary import (BOTH, EXEMPLARS, TEXT, USES, ClassReport,
                               ClassSpec, MixedVocabulary,
                               build_mixed_vocabulary, class_specs,
                               parse_class_use)

__all__ = [
    'EXEMPLAR', 'FORMAT_VERSION', 'KINDS', 'TUNED', 'PromptEmbeddings',
    'PromptEmbeddingsError', 'PromptRecord', 'check_prompt_embeddings_model',
    'load_prompt_embeddings', 'save_prompt_embeddings', 'ClassAggregate',
    'aggregate_class', 'aggregate_exemplars', 'BOTH', 'EXEMPLARS', 'TEXT',
    'USES', 'ClassReport', 'ClassSpec', 'MixedVocabulary',
    'build_mixed_vocabulary', 'class_specs', 'parse_class_use'
]
