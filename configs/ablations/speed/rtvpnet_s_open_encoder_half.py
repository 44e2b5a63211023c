# Speed switch, RTVPNet-S (open): the frozen Mobile-SAM TinyViT reads the
# image average-pooled by 2 (320 px at a 640 px input): about a quarter of
# its cost; its stride-32 output is up-sampled to strides 16 and 8. Only
# the TinyViT changes, which the mini configs do not use, so its accuracy
# cannot be measured on MMIOC-mini: it ships beside the default, not as it.
_base_ = '../../rtvpnet_s_open.py'
model = dict(visual_encoder=dict(input_downsample=2))
