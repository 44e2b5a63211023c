# RTVPNet-S-mini with the InfoNCE region-text loss computed on the
# BatchNorm-ed region embeddings (the form the classifier compares with the
# texts) instead of the class branch's raw output. Everything else is
# configs/rtvpnet_s_mini.py. Results: configs/README.md (learning check).
_base_ = '../../rtvpnet_s_mini.py'

model = dict(
    bbox_head=dict(head_module=dict(region_embeddings='normalized')))
