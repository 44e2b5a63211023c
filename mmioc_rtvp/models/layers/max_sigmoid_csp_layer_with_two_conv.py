# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""C2f layer with a text-guided max-sigmoid attention branch."""
import torch
from mmcv.cnn import ConvModule
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
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
        expand_ratio (float): ``mid_channels = out_channels * expand_ratio``.
            Defaults to 0.5.
        num_blocks (int): Number of bottlenecks. Defaults to 1.
        with_scale (bool): Learnable per-head scale in the attention.
            Defaults to False.
        add_identity (bool): Shortcut in the bottlenecks. Defaults to True.
        conv_cfg (dict, optional): Convolution config.
        norm_cfg (dict): Normalization config.
            Defaults to ``dict(type='BN', momentum=0.03, eps=0.001)``.
        act_cfg (dict): Activation config.
            Defaults to ``dict(type='SiLU', inplace=True)``.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 guide_channels: int,
                 embed_channels: int,
                 num_heads: int = 1,
                 expand_ratio: float = 0.5,
                 num_blocks: int = 1,
                 with_scale: bool = False,
                 add_identity: bool = True,
                 conv_cfg: OptConfigType = None,
                 norm_cfg: ConfigType = dict(
                     type='BN', momentum=0.03, eps=0.001),
                 act_cfg: ConfigType = dict(type='SiLU', inplace=True),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            in_channels=in_channels,
            out_channels=out_channels,
            expand_ratio=expand_ratio,
            num_blocks=num_blocks,
            add_identity=add_identity,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            init_cfg=init_cfg)
        self.in_channels = in_channels
        self.out_channels = out_channels
        # one more mid-channel branch than the parent's final conv takes
        self.final_conv = ConvModule(
            (3 + num_blocks) * self.mid_channels,
            out_channels,
            1,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg)
        self.attn_block = MaxSigmoidAttnBlock(
            self.mid_channels,
            self.mid_channels,
            guide_channels=guide_channels,
            embed_channels=embed_channels,
            num_heads=num_heads,
            with_scale=with_scale,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg)

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
