# Table VIII, RTVPNet-S-mini (open, CPU): WITH the dynamic expert update (eq.
# 6, the paper's setting): L_opt (eq. 5) also trains the expert. The mini
# base leaves it off because its visual encoder is random (see
# ../../_base_/models/rtvpnet_mini.py).
_base_ = '../../rtvpnet_s_mini.py'
model = dict(domain_projection=dict(update_expert=True))
