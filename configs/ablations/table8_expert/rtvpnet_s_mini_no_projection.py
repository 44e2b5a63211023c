# Table VIII, RTVPNet-S-mini (open, CPU): without the domain projection (the
# encoder's features go straight to the refined visual prompt).
_base_ = '../../rtvpnet_s_mini.py'
model = dict(domain_projection=None)
