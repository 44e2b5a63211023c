# Grounding mode of the text detectors (configs/grounding/): the expression
# is the image's one prompt (K = 1), the referent its one box (label 0), and
# every expression gets num_ranked boxes by descending score (no score floor;
# RefExpMetric reads precision@10 from the first 10).
num_ranked = 10
# YOLO-World (the baseline): its own losses, its top box is the answer
grounding_model = dict(
    num_train_classes=1,
    num_test_classes=1,
    bbox_head=dict(head_module=dict(num_classes=1)),
    train_cfg=dict(assigner=dict(num_classes=1)),
    test_cfg=dict(score_thr=0.0, max_per_img=num_ranked))
# RTVPNet: RTVPNetGrounding ranks the boxes; RTVPGroundingHead adds the
# listwise ranking loss to CIoU + DFL + BCE; InfoNCE is constant with one
# prompt, so it is off
rtvpnet_grounding_model = dict(
    grounding_model,
    type='RTVPNetGrounding',
    num_ranked=num_ranked,
    bbox_head=dict(
        type='RTVPGroundingHead',
        head_module=dict(num_classes=1),
        loss_region_text=None,
        loss_rank=dict(type='ReferentRankLoss', loss_weight=1.0)))
