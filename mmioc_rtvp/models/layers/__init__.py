# Copyright (c) mmioc_rtvp contributors. All rights reserved.
from .max_sigmoid_attn_block import MaxSigmoidAttnBlock
from .max_sigmoid_csp_layer_with_two_conv import MaxSigmoidCSPLayerWithTwoConv
from .tinyvit_blocks import (TinyViTAttention, TinyViTAttnStage, TinyViTBlock,
                             TinyViTConvBN, TinyViTConvStage,
                             TinyViTLayerNorm2d, TinyViTMBConv, TinyViTMlp,
                             TinyViTPatchEmbed, TinyViTPatchMerging)
from .block_mask import BlockMask
from .c2psa import C2PSA
from .c3k import C3k
from .c3k2 import C3k2
from .cbam_activation import CBAMActivation
from .domain_projection_net import DomainProjectionNet
from .eca_activation import ECAActivation
from .energy_activation import EnergyActivation
from .energy_sparse_prompt import EnergySparsePrompt
from .expert_domain_projection import ExpertDomainProjection
from .mca_activation import MCAActivation
from .psa_attention import PSAAttention
from .psa_block import PSABlock
from .self_attention_activation import SelfAttentionActivation
from .unguided_csp_layer_with_two_conv import UnguidedCSPLayerWithTwoConv
from .visual_text_update import VisualTextUpdate

__all__ = ['MaxSigmoidAttnBlock', 'MaxSigmoidCSPLayerWithTwoConv']
__all__ += [
    'TinyViTAttention', 'TinyViTAttnStage', 'TinyViTBlock', 'TinyViTConvBN',
    'TinyViTConvStage', 'TinyViTLayerNorm2d', 'TinyViTMBConv', 'TinyViTMlp',
    'TinyViTPatchEmbed', 'TinyViTPatchMerging'
]
__all__ += [
    'BlockMask', 'CBAMActivation', 'DomainProjectionNet', 'ECAActivation',
    'EnergyActivation', 'EnergySparsePrompt', 'ExpertDomainProjection',
    'MCAActivation', 'SelfAttentionActivation', 'UnguidedCSPLayerWithTwoConv',
    'VisualTextUpdate'
]
__all__ += ['C2PSA', 'C3k', 'C3k2', 'PSAAttention', 'PSABlock']
