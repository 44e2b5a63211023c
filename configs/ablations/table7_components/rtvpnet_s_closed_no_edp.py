# Table VII, RTVPNet-S closed: without Expert-assisted Domain Projection: the
# frozen encoder's features go straight to the refined visual prompt.
_base_ = '../../rtvpnet_s_closed.py'
model = dict(domain_projection=None)
