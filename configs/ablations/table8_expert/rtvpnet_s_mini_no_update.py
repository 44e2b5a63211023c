# Table VIII, RTVPNet-S-mini (open, CPU): without the dynamic expert update
# (eq. 6): L_opt does not reach the expert (it still learns from the detection
# losses).
_base_ = '../../rtvpnet_s_mini.py'
model = dict(domain_projection=dict(update_expert=False))
