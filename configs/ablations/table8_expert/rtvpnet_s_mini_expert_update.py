# Table VIII, RTVPNet-S-mini (open, CPU): the paper's full setting, pretrain +
# projection + update: the expert starts from the YOLOv8-S-mini seen-class run
# (eq. 1, ../../rtvpnet_s_mini_expert.py) AND the dynamic expert update (eq. 6)
# trains it through L_opt. Compare with rtvpnet_s_mini_expert.py (update off).
_base_ = '../../rtvpnet_s_mini_expert.py'
model = dict(domain_projection=dict(update_expert=True))
