# Table VIII, RTVPNet-S open: without the domain projection (the encoder's
# features go straight to the refined visual prompt).
_base_ = '../../rtvpnet_s_open.py'
model = dict(domain_projection=None)
