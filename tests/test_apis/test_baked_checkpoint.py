# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Baked vocabularies (tools/deploy/reparameterize.py) and slim loading."""
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmioc_rtvp.apis import BAKED_KEY, MMIOCInferencer
from mmioc_rtvp.apis.baked_checkpoint import bake_checkpoint
from mmioc_rtvp.apis.model_loading import check_and_load
from mmioc_rtvp.engine.hooks.slim_checkpoint_hook import SLIM_META_KEY
from mmioc_rtvp.registry import MODELS
from .conftest import CLASS_PROMPTS

pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture(scope='module')
def baked(tiny_config, tiny_checkpoint, tmp_path_factory):
    init_default_scope('mmioc_rtvp')
    ckpt = bake_checkpoint(Config.fromfile(tiny_config), tiny_checkpoint,
                           CLASS_PROMPTS[:3])
    path = tmp_path_factory.mktemp('baked') / 'baked.pth'
    torch.save(ckpt, path)
    return str(path)


def test_baked_checkpoint_has_no_text_encoder(baked, inferencer):
    ckpt = torch.load(baked, weights_only=True)
    assert not any(k.startswith('backbone.text_model')
                   for k in ckpt['state_dict'])
    assert ckpt[BAKED_KEY]['prompts'] == CLASS_PROMPTS[:3]
    # the stored embeddings are the ensemble embeddings of the vocabulary
    inferencer.set_vocabulary(CLASS_PROMPTS[:3])
    torch.testing.assert_close(ckpt[BAKED_KEY]['text_feats'],
                               inferencer.text_feats[0])


def test_baked_model_detects_as_the_training_checkpoint(
        baked, tiny_config, images, inferencer):
    deployed = MMIOCInferencer(model=tiny_config, weights=baked,
                               device='cpu', show_progress=False)
    assert deployed.model.backbone.text_model is None
    assert deployed.classes == [p[0] for p in CLASS_PROMPTS[:3]]
    a = deployed(images[0])['predictions'][0]
    b = inferencer(images[0], texts=CLASS_PROMPTS[:3])['predictions'][0]
    assert a['labels'] == b['labels']
    np.testing.assert_allclose(a['scores'], b['scores'], rtol=1e-6)
    np.testing.assert_allclose(a['bboxes'], b['bboxes'], rtol=1e-6)
    # same vocabulary accepted; another one is refused (no text encoder)
    deployed(images[0], texts=CLASS_PROMPTS[:3])
    with pytest.raises(ValueError, match='baked vocabulary'):
        deployed(images[0], texts=['crack in wood'])


def test_baking_twice_is_refused(baked, tiny_config):
    with pytest.raises(ValueError, match='already has a baked vocabulary'):
        bake_checkpoint(Config.fromfile(tiny_config), baked, ['hole in wood'])


def test_slim_checkpoints_may_omit_only_their_listed_modules(tiny_config):
    init_default_scope('mmioc_rtvp')
    cfg = Config.fromfile(tiny_config)
    model = MODELS.build(cfg.model)
    state = {k: v for k, v in model.state_dict().items()
             if not k.startswith('visual_encoder.')}
    with pytest.raises(ValueError, match='missing from the checkpoint'):
        check_and_load(model, dict(state_dict=dict(state)), 'cfg.py',
                       'ckpt.pth')
    slim = dict(state_dict=state,
                meta={SLIM_META_KEY: dict(modules={'visual_encoder': 'f'})})
    check_and_load(model, slim, 'cfg.py', 'ckpt.pth')
    state['extra.weight'] = torch.zeros(1)
    with pytest.raises(ValueError, match='not in the model'):
        check_and_load(model, slim, 'cfg.py', 'ckpt.pth')
