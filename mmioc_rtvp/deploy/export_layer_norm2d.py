# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Channel LayerNorm of (B, C, H, W) maps with a constant normalised shape."""
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmioc_rtvp.models.layers.tinyvit_blocks import TinyViTLayerNorm2d


class ExportLayerNorm2d(nn.Module):
    """:class:`TinyViTLayerNorm2d` for ONNX export (same parameters, same
    result).

    The training module passes ``(x.shape[1], )`` to ``F.layer_norm``; the
    TorchScript tracer records that size as a graph value, and ONNX's
    LayerNormalization needs it constant ("Failed to export ... Gather").
    This module takes C from its weight instead. It replaces the training
    module only in the copy that is exported
    (:func:`mmioc_rtvp.deploy.onnx_export.export_friendly_copy`).

    Args:
        source (TinyViTLayerNorm2d): The module whose parameters and eps are
            used (shared, not copied).
    """

    def __init__(self, source: TinyViTLayerNorm2d) -> None:
        super().__init__()
        self.weight = source.weight
        self.bias = source.bias
        self.eps = source.eps
        self.normalized_shape = (int(source.weight.shape[0]), )

    def forward(self, x: Tensor) -> Tensor:
        """Args:
            x (Tensor): ``(B, C, H, W)``.

        Returns:
            Tensor: ``(B, C, H, W)``, normalised over C at each position,
            then scaled and shifted per channel.
        """
        x = F.layer_norm(
            x.permute(0, 2, 3, 1), self.normalized_shape, self.weight,
            self.bias, eps=self.eps)
        return x.permute(0, 3, 1, 2)
