# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""C2f layer with a text-guided max-sigmoid attention branch."""
import torch
from mmcv.cnn import ConvModule
from mmyolo.models.layers import CSPLayerWithTwoConv
from torch import Tensor

from mmioc_rtvp.registry import MODELS
from .max_sigmoid_attn_block import MaxSigmoidAttnBlock


@MODELS.register_module()
class MaxSigmoidCSPLayerWithTwoConv(CSPLayerWithTwoConv):
    """mmyolo's C2f (``CSPLayerWithTwoConv``) plus a text-guided branch.

    The C2f layer concatenates the two halves of ``main_conv`` and the output
    of every bottleneck before ``final_conv``. This layer appends one more
    ``mid_channels`` branch, :class:`MaxSigmoidAttnBlock` applied to the
    last branch and guided by the prompt embeddings, so ``final_conv`` takes
    ``(3 + num_blocks) * mid_channels`` channels instead of
    ``(2 + num_blocks) * mid_channels``::

        x -> main_conv -> [x0, x1] -> x1 -> block_1 -> ... -> x_n
        y = final_conv(cat[x0, x1, b_1..b_n, attn(x_n, texts)])

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        guide_channels (int): D, the text embedding dimension.
        embed_channels (int): Embedding channels of the attention block.
        num_heads (int): Attention heads. Defaults to 1.
        with_scale (bool): Learnable per-head scale in the attention.
            Defaults to False.
        **kwargs: The arguments of mmyolo's ``CSPLayerWithTwoConv``, with
            its defaults: ``expand_ratio`` (0.5), ``num_blocks`` (1),
            ``add_identity`` (True), ``conv_cfg``, ``norm_cfg`` (BN,
            momentum 0.03, eps 0.001), ``act_cfg`` (SiLU) and ``init_cfg``.
            The attention block uses the same ``conv_cfg`` and ``norm_cfg``.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 guide_channels: int,
                 embed_channels: int,
                 num_heads: int = 1,
                 *,
                 with_scale: bool = False,
                 **kwargs) -> None:
        super().__init__(in_channels, out_channels, **kwargs)
        self.in_channels = in_channels
        self.out_channels = out_channels
        parent_final = self.final_conv
        # one more mid-channel branch than the parent's final conv takes
        self.final_conv = ConvModule(
            (3 + len(self.blocks)) * self.mid_channels,
            out_channels,
            1,
            conv_cfg=parent_final.conv_cfg,
            norm_cfg=parent_final.norm_cfg,
            act_cfg=parent_final.act_cfg)
        self.attn_block = MaxSigmoidAttnBlock(
            self.mid_channels,
            self.mid_channels,
            guide_channels=guide_channels,
            embed_channels=embed_channels,
            num_heads=num_heads,
            with_scale=with_scale,
            conv_cfg=parent_final.conv_cfg,
            norm_cfg=parent_final.norm_cfg)

    def forward(self, x: Tensor, guide: Tensor) -> Tensor:
        """Forward.

        Args:
            x (Tensor): (B, in_channels, H, W) image features.
            guide (Tensor): (B, K, D) prompt embeddings.

        Returns:
            Tensor: (B, out_channels, H, W).
        """
        x_main = self.main_conv(x)
        x_main = list(x_main.split((self.mid_channels, self.mid_channels), 1))
        x_main.extend(block(x_main[-1]) for block in self.blocks)
        x_main.append(self.attn_block(x_main[-1], guide))
        return self.final_conv(torch.cat(x_main, 1))
