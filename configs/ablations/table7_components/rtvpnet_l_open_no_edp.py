# Table VII, RTVPNet-L open: without Expert-assisted Domain Projection: the
# frozen encoder's features go straight to the refined visual prompt.
_base_ = '../../rtvpnet_l_open.py'
model = dict(domain_projection=None)
