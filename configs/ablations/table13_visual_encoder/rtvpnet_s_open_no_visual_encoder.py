# Table XIII, RTVPNet-S open: no visual encoder (no visual prompt at all; the
# text-only reference row). Other encoders plug in as model.visual_encoder (any
# module with out_channels / out_strides); only Mobile-SAM's TinyViT is
# implemented here.
_base_ = '../../rtvpnet_s_open.py'
model = dict(visual_encoder=None,
             domain_projection=None,
             visual_prompt=None,
             prompt_aux_head=None)
