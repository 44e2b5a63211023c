# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Parameters and GMACs of a two-stage mmdet detector config.

``tools/analysis_tools/get_flops.py`` traces ``mode='tensor'`` with images
only; mmdet's two-stage detectors (Faster R-CNN...) need the data samples in
that mode (the RPN's proposals feed the RoI head), as mmdet's own
``get_flops`` passes them. Counter: mmengine's ``get_model_complexity_info``
(fvcore's rules: one multiply-accumulate = 1; BatchNorm and up-sampling are
not counted). The RoI head's share depends on the number of proposals kept
(``test_cfg.rpn.max_per_img``, at most 1000 for the stock config); with
random weights the RPN keeps about that many.

Example::

    python tools/analysis_tools/get_flops_two_stage.py \\
        configs/model_zoo/faster_rcnn_r50_fpn_mmioc.py --shape 640 640
"""
import argparse
from functools import partial

import torch
from mmdet.structures import DetDataSample
from mmengine.analysis import get_model_complexity_info
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs=2, default=(640, 640),
                        metavar=('H', 'W'))
    args = parser.parse_args()
    h, w = args.shape
    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    sample = DetDataSample(
        metainfo=dict(img_shape=(h, w), ori_shape=(h, w),
                      batch_input_shape=(h, w), scale_factor=(1., 1.)))
    model.forward = partial(model._forward, batch_data_samples=[sample])
    with torch.no_grad():
        info = get_model_complexity_info(
            model, inputs=torch.rand(1, 3, h, w), show_table=False,
            show_arch=False)
    print(f'{args.config}: input 1x3x{h}x{w}, params '
          f'{info["params"] / 1e6:.3f} M, {info["flops"] / 1e9:.3f} GMACs')
    for name, child in model.named_children():
        params = sum(p.numel() for p in child.parameters())
        if params:
            print(f'  {name}: {params / 1e6:.3f} M params')


if __name__ == '__main__':
    main()
