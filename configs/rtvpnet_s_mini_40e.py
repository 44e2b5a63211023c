# RTVPNet-S-mini on the longer CPU schedule of the first learning check
# (40 epochs, mosaic closed for the last 5; ~2x the time of rtvpnet_s_mini.py).
# `make demo-full` trains it.
_base_ = './rtvpnet_s_mini.py'
max_epochs = 40
close_mosaic_epochs = 5
train_cfg = dict(
    max_epochs=max_epochs,
    dynamic_intervals=[(max_epochs - close_mosaic_epochs,
                        _base_.val_interval)])
default_hooks = dict(param_scheduler=dict(max_epochs=max_epochs))
custom_hooks = [
    _base_.custom_hooks[0],
    dict(_base_.custom_hooks[1], num_last_epochs=close_mosaic_epochs)
]
