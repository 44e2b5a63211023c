# Table IX, RTVPNet-L open: block mask ratio 23 % (default 20 %).
_base_ = '../../rtvpnet_l_open.py'
model = dict(domain_projection=dict(mask_ratio=0.23))
