# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The MiniLM text encoder as a function of token tensors, for export."""
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmioc_rtvp.models.text_encoders import MiniLMTextEncoder


class ExportableMiniLM(nn.Module):
    """Token ids in, the embeddings of :class:`MiniLMTextEncoder` out.

    The encoder tokenises strings, which a graph cannot do; this module
    starts after the tokenizer: BERT token states, mean over the attention
    mask, L2 normalisation, i.e. :meth:`MiniLMTextEncoder._encode_uncached`
    followed by the normalisation of ``BaseTextEncoder`` (a test checks the
    equality). The tokenizer runs in the runner
    (:class:`~mmioc_rtvp.deploy.ORTTextEncoder`).

    Args:
        encoder (MiniLMTextEncoder): The encoder (shared, not copied).
    """

    def __init__(self, encoder: MiniLMTextEncoder) -> None:
        super().__init__()
        if not isinstance(encoder, MiniLMTextEncoder):
            raise TypeError(
                'only MiniLMTextEncoder can be exported to ONNX here, got '
                f'{type(encoder).__name__} (compute its embeddings in '
                'PyTorch, e.g. tools/misc/precompute_text_embeddings.py)')
        self.encoder = encoder

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """Sentence embeddings.

        Args:
            input_ids (Tensor): (N, L) int64 token ids.
            attention_mask (Tensor): (N, L) int64, 1 for real tokens.

        Returns:
            Tensor: (N, D) L2-normalised embeddings.
        """
        hidden = self.encoder.model(
            input_ids=input_ids,
            attention_mask=attention_mask).last_hidden_state  # (N, L, D)
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return F.normalize(pooled, dim=-1)
