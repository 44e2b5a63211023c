# Table VII, RTVPNet-S-mini (open, CPU): without Expert-assisted Domain
# Projection: the frozen encoder's features go straight to the refined visual
# prompt.
_base_ = '../../rtvpnet_s_mini.py'
model = dict(domain_projection=None)
