# The paper's schedule: AdamW, lr 2e-3, weight decay 0.025, 200 epochs,
# batch 16 x 8 GPUs, linear decay to 0.01 x lr, mosaic closed for the last
# epochs (the authors' run: 2), EMA of the weights, grad clip 10.
_base_ = '../default_runtime.py'

max_epochs = 200
close_mosaic_epochs = 2
base_lr = 2e-3
# lr of the image backbone: RTVPNet's expert, updated with the coupling lr
# of eq. 6 in its own parameter group (the paper: 2e-3)
expert_lr = 2e-3
weight_decay = 0.025
lr_factor = 0.01
warmup_epochs = 3
# mmyolo's YOLOv5ParamSchedulerHook warms up over
# max(warmup_epochs * iters_per_epoch, warmup_mim_iter) iterations
warmup_mim_iter = 1000
save_epoch_intervals = 5
val_interval = 5
val_interval_stage2 = 1
max_keep_ckpts = 2

optim_wrapper = dict(
    type='OptimWrapper',
    clip_grad=dict(max_norm=10.0),
    optimizer=dict(type='AdamW', lr=base_lr, weight_decay=weight_decay),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            'logit_scale': dict(decay_mult=0.0),
            'backbone.image_model': dict(lr_mult=expert_lr / base_lr),
            # frozen encoders have no trainable parameters; if unfrozen,
            # they train at 1% of the lr (YOLO-World's and the authors' run)
            'backbone.text_model': dict(lr_mult=0.01),
        }))

train_cfg = dict(
    # MMEngine's EpochBasedTrainLoop, resumed bit-exactly (docs/reliability.md)
    type='ExactResumeEpochBasedTrainLoop',
    max_epochs=max_epochs,
    val_interval=val_interval,
    dynamic_intervals=[((max_epochs - close_mosaic_epochs),
                        val_interval_stage2)])
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = None

default_hooks = dict(
    param_scheduler=dict(
        type='YOLOv5ParamSchedulerHook',
        scheduler_type='linear',
        lr_factor=lr_factor,
        max_epochs=max_epochs,
        warmup_epochs=warmup_epochs,
        # the hook ramps param group #2 from warmup_bias_lr, which assumes
        # mmyolo's 3-group SGD constructor; with AdamW's per-parameter
        # groups every group ramps from 0
        warmup_bias_lr=0.0,
        warmup_mim_iter=warmup_mim_iter),
    checkpoint=dict(
        type='CheckpointHook',
        interval=save_epoch_intervals,
        save_best='auto',
        max_keep_ckpts=max_keep_ckpts))

custom_hooks = [
    dict(
        type='EMAHook',
        ema_type='ExpMomentumEMA',
        momentum=0.0001,
        update_buffers=True,
        strict_load=False,
        priority=49),
    # the dataset config's train_pipeline_stage2 for the last epochs
    dict(type='CloseMosaicHook', num_last_epochs=close_mosaic_epochs)
]

auto_scale_lr = dict(enable=False, base_batch_size=16 * 8)
