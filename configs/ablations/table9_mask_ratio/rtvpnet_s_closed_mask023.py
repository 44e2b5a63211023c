# Table IX, RTVPNet-S closed: block mask ratio 23 % (default 20 %).
_base_ = '../../rtvpnet_s_closed.py'
model = dict(domain_projection=dict(mask_ratio=0.23))
