# Runtime shared by every mmioc_rtvp config.
# Types are looked up in mmioc_rtvp's registries, then mmyolo's, then
# mmengine's; mmdet's are written 'mmdet.Xxx'.
default_scope = 'mmioc_rtvp'
# CPU/GPU/DDP-agnostic runner (gloo + device_ids=None without CUDA, safe
# checkpoints, scoped collate functions): mmioc_rtvp/engine/runner
runner_type = 'mmioc_rtvp.MMIOCRunner'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='mmdet.DetVisualizationHook'))

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # NCCL on GPUs; MMIOCRunner switches to gloo when there is no GPU
    dist_cfg=dict(backend='nccl'))

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='mmdet.DetLocalVisualizer', vis_backends=vis_backends,
    name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
