# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import pytest
import torch
import torch.nn as nn

from mmioc_rtvp.models.layers import UnguidedCSPLayerWithTwoConv
from ..rtvpnet_utils import build_tiny_rtvpnet
from ..yolo_world_utils import make_test_batch, make_train_batch

TRAIN_TEXTS = [['scratch', 'hole', 'crack', ''],
               ['stain', 'scratch', '', '']]
# boxes large enough that prompt positions fall inside them at every level
TRAIN_BOXES = [[[2, 2, 60, 50], [30, 30, 62, 62]], [[4, 4, 62, 60]]]
TRAIN_LABELS = [[0, 2], [1]]
VOCAB = ['scratch', 'hole', 'crack']


def _train_data(model, size=64):
    data = make_train_batch(TRAIN_TEXTS, TRAIN_BOXES, TRAIN_LABELS,
                            size=size)
    return model.data_preprocessor(data, True)


def _predict(model, texts, num_images=2, size=64, seed=1):
    data = model.data_preprocessor(
        make_test_batch(texts, num_images=num_images, size=size, seed=seed),
        False)
    model.eval()
    with torch.no_grad():
        return model(**data, mode='predict')


def _randomise_adapters(model, seed=0):
    """Non-zero prompt adapters (they start at zero by design)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for conv in model.prompt_adapters:
            conv.weight.copy_(
                torch.randn(conv.weight.shape, generator=gen) * 0.1)


@pytest.fixture(scope='module')
def model():
    """A tiny RTVPNet with non-zero adapters; tests must not change it."""
    torch.manual_seed(0)
    model = build_tiny_rtvpnet()
    _randomise_adapters(model)
    return model


def _grad_norm(module: nn.Module) -> float:
    return sum(
        float(p.grad.abs().sum()) for p in module.parameters()
        if p.grad is not None)


def test_full_model_losses(model):
    model.train()
    losses = model(**_train_data(model), mode='loss')
    assert set(losses) == {
        'loss_cls', 'loss_bbox', 'loss_dfl', 'loss_region_text', 'loss_opt',
        'opt_value', 'loss_rvp_ciou'
    }
    for key, value in losses.items():
        assert torch.isfinite(value), key
    assert float(losses['loss_region_text']) > 0
    assert float(losses['loss_opt']) > 0
    assert float(losses['loss_rvp_ciou']) > 0


def test_gradients_reach_expert_and_new_modules_not_frozen_encoders(model):
    model.zero_grad(set_to_none=True)
    model.train()
    losses = model(**_train_data(model), mode='loss')
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    trained = {
        'expert': model.backbone.image_model,
        'edp projectors': model.domain_projection.projectors,
        'edp condition': model.domain_projection.cond_convs,
        'edp phi': model.domain_projection.phi,
        'rvp score': nn.ModuleList(m.proj_score for m in model.visual_prompts),
        'aux head': model.prompt_aux_head,
        'adapters': model.prompt_adapters,
        'v-t': model.visual_text,
        'neck': model.neck,
        'head': model.bbox_head,
    }
    for name, module in trained.items():
        assert _grad_norm(module) > 0, name
    # the frozen encoders: no parameter takes gradients, none got any
    for name, module in (('visual encoder', model.visual_encoder),
                         ('text encoder', model.backbone.text_model)):
        params = list(module.parameters())
        assert params and all(not p.requires_grad for p in params), name
        assert all(p.grad is None for p in params), name
    # psi is frozen too (see ExpertDomainProjection)
    assert all(p.grad is None
               for p in model.domain_projection.psi.parameters())
    model.zero_grad(set_to_none=True)


@pytest.mark.parametrize('update_expert', [True, False])
def test_expert_update_through_the_optimisation_loss(update_expert):
    torch.manual_seed(0)
    model = build_tiny_rtvpnet()
    model.domain_projection.update_expert = update_expert
    model.train()
    losses = model(**_train_data(model), mode='loss')
    losses['loss_opt'].backward()  # L_opt alone (eq. 6)
    expert_grad = _grad_norm(model.backbone.image_model)
    assert (expert_grad > 0) == update_expert
    assert _grad_norm(model.domain_projection.projectors) > 0


def test_adapters_start_at_zero_so_the_expert_is_unchanged():
    torch.manual_seed(0)
    model = build_tiny_rtvpnet(vt=False)
    model.eval()
    x = torch.rand(2, 3, 64, 64)
    txt = model.backbone.forward_text([VOCAB, VOCAB])
    with torch.no_grad():
        out = model.forward_features(x, txt)
        plain = model.neck(model.backbone.forward_image(x), txt)
    assert len(out.prompts) == 3
    assert any(float(p.abs().sum()) > 0 for p in out.prompts)
    for a, b in zip(out.img_feats, plain):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_prompts_are_injected_into_the_expert_levels(model):
    model.eval()
    x = torch.rand(2, 3, 64, 64)
    txt = model.backbone.forward_text([VOCAB, VOCAB])
    with torch.no_grad():
        out = model.forward_features(x, txt)
        # a straightforward re-computation of the data flow
        expert = model.backbone.forward_image(x)
        sam = model.visual_encoder(x)
        coarse = model.domain_projection(sam, expert)
        prompts = []
        for rvp, c in zip(model.visual_prompts, coarse):
            score = rvp.score(c)
            prompts.append(c * rvp.select(score))
        injected = [
            e + a(s)
            for e, s, a in zip(expert, prompts, model.prompt_adapters)
        ]
        neck = model.neck(injected, txt)
    for a, b in zip(out.prompts, prompts):
        torch.testing.assert_close(a, b)
    for a, b in zip(out.img_feats, neck):
        torch.testing.assert_close(a, b)
    # the injection matters once the adapters are non-zero
    plain = model.neck(model.backbone.forward_image(x), txt)
    assert not torch.allclose(out.img_feats[0], plain[0])


def test_visual_text_update_feeds_the_head():
    torch.manual_seed(0)
    model = build_tiny_rtvpnet()
    with torch.no_grad():
        model.visual_text.scale.fill_(0.5)
    model.eval()
    x = torch.rand(1, 3, 64, 64)
    txt = model.backbone.forward_text([VOCAB])
    with torch.no_grad():
        img_feats, new_txt = model.extract_feat(x, txt)
        assert not torch.allclose(new_txt, txt)
        torch.testing.assert_close(new_txt,
                                   model.visual_text(img_feats, txt))
        logits = model.bbox_head.head_module(img_feats, new_txt)[0]
        model.reparameterize([VOCAB])
        raw = model._forward(x)[0]
    for a, b in zip(raw, logits):
        torch.testing.assert_close(a, b)


def test_reparameterized_and_online_text_give_the_same_detections():
    torch.manual_seed(2)
    model = build_tiny_rtvpnet(num_test_classes=3)
    _randomise_adapters(model)
    online = _predict(model, [VOCAB, VOCAB])
    assert sum(len(r.pred_instances) for r in online) > 0
    model.reparameterize([VOCAB])
    calls = model.backbone.text_model.calls
    offline = _predict(model, None)
    assert model.backbone.text_model.calls == calls
    for a, b in zip(online, offline):
        for key in ('bboxes', 'scores', 'labels'):
            torch.testing.assert_close(b.pred_instances[key],
                                       a.pred_instances[key], rtol=0, atol=0)


def test_test_time_is_deterministic(model):
    first = _predict(model, [VOCAB, VOCAB])
    second = _predict(model, [VOCAB, VOCAB])
    for a, b in zip(first, second):
        torch.testing.assert_close(a.pred_instances.scores,
                                   b.pred_instances.scores, rtol=0, atol=0)


@pytest.mark.parametrize(
    'switches, absent, present_losses',
    [
        (dict(edp=False), ['domain_projection'], {'loss_rvp_ciou'}),
        (dict(rvp=False), ['visual_prompts', 'prompt_aux_head'],
         {'loss_opt'}),
        (dict(vt=False), ['visual_text'], {'loss_opt', 'loss_rvp_ciou'}),
        (dict(edp=False, rvp=False), [
            'visual_encoder', 'domain_projection', 'visual_prompts',
            'prompt_adapters'
        ], set()),
        (dict(infonce=False), [], {'loss_opt', 'loss_rvp_ciou'}),
    ])
def test_ablation_switches(switches, absent, present_losses):
    torch.manual_seed(0)
    model = build_tiny_rtvpnet(**switches)
    for name in absent:
        assert getattr(model, name) is None, name
    model.train()
    losses = model(**_train_data(model), mode='loss')
    extra = set(losses) - {'loss_cls', 'loss_bbox', 'loss_dfl', 'opt_value'}
    expected = set(present_losses)
    if switches.get('infonce', True):
        expected.add('loss_region_text')
    assert extra == expected
    results = _predict(model, [VOCAB, VOCAB])
    assert len(results) == 2


def test_text_visual_switch_uses_unguided_blocks():
    torch.manual_seed(0)
    model = build_tiny_rtvpnet(tv=False)
    blocks = list(model.neck.top_down_layers) + list(
        model.neck.bottom_up_layers)
    assert blocks and all(
        isinstance(b, UnguidedCSPLayerWithTwoConv) for b in blocks)
    model.eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        a = model.neck(model.backbone.forward_image(x),
                       model.backbone.forward_text([VOCAB]))
        b = model.neck(model.backbone.forward_image(x),
                       model.backbone.forward_text([['x', 'y', 'z']]))
    for fa, fb in zip(a, b):  # the neck no longer depends on the text
        torch.testing.assert_close(fa, fb, rtol=0, atol=0)


def test_invalid_combinations_are_rejected():
    from ..rtvpnet_utils import tiny_rtvpnet_cfg
    from mmengine.config import ConfigDict
    from mmengine.registry import DefaultScope

    from mmioc_rtvp.registry import MODELS
    cfg = tiny_rtvpnet_cfg()
    cfg.pop('visual_encoder')
    with DefaultScope.overwrite_default_scope('mmioc_rtvp'):
        with pytest.raises(ValueError, match='give visual_encoder'):
            MODELS.build(ConfigDict(cfg))
        cfg = tiny_rtvpnet_cfg()
        cfg.pop('visual_prompt')
        with pytest.raises(ValueError, match='give visual_prompt'):
            MODELS.build(ConfigDict(cfg))


def test_visual_prompt_maps_and_region_embeddings(model):
    model.eval()
    x = torch.rand(2, 3, 64, 64)
    maps = model.visual_prompt_maps(x)
    assert [tuple(s.shape) for s in maps['scores']] == [(2, 1, 8, 8),
                                                        (2, 1, 4, 4),
                                                        (2, 1, 2, 2)]
    # keep masks are the selection rule applied to the scores
    for rvp, score, keep in zip(model.visual_prompts, maps['scores'],
                                maps['keep_masks']):
        torch.testing.assert_close(keep, rvp.select(score))
    txt = model.backbone.forward_text([VOCAB, VOCAB])
    embeds = model.region_embeddings(x, txt)
    assert [tuple(e.shape) for e in embeds] == [(2, 16, 8, 8), (2, 16, 4, 4),
                                                (2, 16, 2, 2)]
