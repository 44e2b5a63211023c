# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""VisualPromptedBackbone: declared shapes and the injection
``out_i = X_i + A_i(S_i)``."""
import pytest
import torch

from mmioc_rtvp.models.backbones import VisualPromptedBackbone
from tests.test_models.rtvpnet_utils import TINY_VISUAL_ENCODER

EXPERT = dict(type='YOLOv8CSPDarknet', deepen_factor=0.33,
              widen_factor=0.125)


def _build(**kwargs):
    from mmengine.registry import init_default_scope
    init_default_scope('mmioc_rtvp')
    torch.manual_seed(0)
    cfg = dict(image_model=EXPERT, visual_encoder=TINY_VISUAL_ENCODER,
               domain_projection=dict(type='ExpertDomainProjection',
                                      align_channels=8, hidden_channels=8),
               visual_prompt=dict(type='EnergySparsePrompt', patch_size=32))
    cfg.update(kwargs)
    model = VisualPromptedBackbone(**cfg)
    model.init_weights()
    return model.eval()


def test_declares_the_expert_shapes_and_starts_unchanged():
    model = _build()
    assert model.out_channels == [32, 64, 128]
    assert model.out_strides == [8, 16, 32]
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        outs = model(x)
        ref = model.expert.forward_image(x)
    for out, r, c, s in zip(outs, ref, model.out_channels, model.out_strides):
        assert out.shape == (2, c, 64 // s, 64 // s)
        torch.testing.assert_close(out, r)  # zero adapters


@pytest.mark.parametrize('edp, rvp', [(True, True), (False, True),
                                      (False, False)])
def test_adds_the_adapted_prompt(edp, rvp):
    kwargs = {}
    if not edp:
        kwargs['domain_projection'] = None
    if not rvp:
        kwargs['visual_prompt'] = None
    model = _build(**kwargs)
    for conv in model.prompt_adapters:
        torch.nn.init.normal_(conv.weight)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        expert = model.expert.forward_image(x)
        prompts = model.visual_encoder(x)
        if edp:
            prompts = model.domain_projection(prompts, expert)
        if rvp:
            prompts = [m(p)[0] for m, p in zip(model.visual_prompts,
                                              prompts)]
        outs = model(x)
    for out, feat, prompt, conv in zip(outs, expert, prompts,
                                       model.prompt_adapters):
        torch.testing.assert_close(out, feat + conv(prompt))
        assert not torch.allclose(out, feat)


def test_rejects_mismatched_strides():
    with pytest.raises(ValueError, match='VisualPromptedBackbone.*strides'):
        _build(visual_encoder=dict(TINY_VISUAL_ENCODER,
                                   out_strides=(16, 32)))
