# Table VIII, RTVPNet-L closed: without the domain projection (the encoder's
# features go straight to the refined visual prompt).
_base_ = '../../rtvpnet_l_closed.py'
model = dict(domain_projection=None)
