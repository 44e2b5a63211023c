# Copyright (c) mmioc_rtvp contributors. All rights reserved.
from .max_sigmoid_attn_block import MaxSigmoidAttnBlock
from .max_sigmoid_csp_layer_with_two_conv import MaxSigmoidCSPLayerWithTwoConv

__all__ = ['MaxSigmoidAttnBlock', 'MaxSigmoidCSPLayerWithTwoConv']
