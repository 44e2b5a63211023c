# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Exemplar embeddings through the run-time-vocabulary ONNX file: the same
detections as PyTorch, the same file read without torch, and a file of
other weights refused."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmioc_rtvp.apis import MMIOCInferencer, build_detector
from mmioc_rtvp.apis.exemplar_prompts import make_exemplar_file
from mmioc_rtvp.apis.model_fingerprint import model_fingerprint
from mmioc_rtvp.deploy import (ExportableDetector, ORTDetector,
                               build_metadata, export_onnx)
from mmioc_rtvp.deploy.ort_inferencer import ORTInferencer
from mmioc_rtvp.prompts import (PromptEmbeddingsError,
                                build_mixed_vocabulary, class_specs)
from tests.test_deploy.test_onnx_parity import CONFIGS, REPO_ROOT, build_mini
from tests.test_deploy.test_ort_inferencer import (SIZE,
                                                   assert_same_predictions)

CONFIG = 'configs/exemplar/yolo_world_s_mini_exemplar.py'
TEXTS = ['scratch on steel', 'hole in wood']


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """A mini YOLO-World with an exemplar encoder, its checkpoint and
    run-time-vocabulary export, reference images, its exemplar file and
    one of other weights."""
    root = tmp_path_factory.mktemp('exemplar_onnx')
    cfg = Config.fromfile(osp.join(REPO_ROOT, CONFIG))
    cfg.test_dataloader = cfg.val_dataloader  # one dataset, same pipeline
    config = str(root / 'yolo_world_exemplar.py')
    cfg.dump(config)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(CONFIGS, 'yolo_world_exemplar', CONFIG)
        model = build_mini('yolo_world_exemplar')
    ckpt = str(root / 'model.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)
    runtime = ExportableDetector(model, runtime_vocabulary=True)
    onnx_file = str(root / 'runtime.onnx')
    export_onnx(runtime, onnx_file, (SIZE, SIZE),
                build_metadata(runtime, (SIZE, SIZE)))
    rng = np.random.default_rng(0)
    images = []
    for i, (h, w) in enumerate([(240, 300), (200, 160)]):
        images.append(str(root / f'ref_{i}.png'))
        cv2.imwrite(images[-1], rng.integers(0, 255, (h, w, 3), np.uint8))
    refs = str(root / 'refs.json')
    with open(refs, 'w') as f:
        json.dump([
            {'class': 'hole in wood', 'image': images[0],
             'box': [20, 30, 120, 110]},
            {'class': 'hole in wood', 'image': images[1],
             'box': [10, 10, 90, 150]},
            {'class': 'pit', 'image': images[1], 'box': [40, 60, 150, 190]},
        ], f)
    loaded, _ = build_detector(Config.fromfile(config), ckpt)
    assert model_fingerprint(loaded) == model_fingerprint(model)
    exemplars = str(root / 'exemplars.npz')
    assert make_exemplar_file(loaded, refs, exemplars).written == 3
    torch.manual_seed(5)
    other, _ = build_detector(Config.fromfile(config), None)
    other_file = str(root / 'other.npz')
    make_exemplar_file(other, refs, other_file)
    return dict(config=config, ckpt=ckpt, onnx=onnx_file, images=images,
                exemplars=exemplars, other=other_file)


def test_exemplar_vocabulary_onnx_matches_pytorch(files):
    eager = MMIOCInferencer(files['config'], files['ckpt'], texts=TEXTS,
                            exemplars=files['exemplars'],
                            show_progress=False)
    ort = ORTInferencer(files['config'], files['onnx'], files['ckpt'],
                        num_threads=1, texts=TEXTS,
                        exemplars=files['exemplars'], show_progress=False)
    assert eager.classes == ort.classes == TEXTS + ['pit']
    e = eager(files['images'])
    o = ort(files['images'])
    assert_same_predictions(e['predictions'], o['predictions'])
    # the labels of the exemplar-only class are found in both
    assert any(2 in p['labels'] for p in e['predictions'])

    # the runner alone (numpy + onnxruntime) reads the same file
    det = ORTDetector(files['onnx'], num_threads=1)
    prompts = det.load_prompt_embeddings(files['exemplars'])
    with torch.no_grad():
        table = {
            p: t.numpy()
            for p, t in zip(TEXTS,
                            eager.model.backbone.forward_text([TEXTS])[0])
        }
    vocab = build_mixed_vocabulary(
        class_specs([[t] for t in TEXTS], prompts), prompts, table)
    assert vocab.names == eager.classes
    np.testing.assert_allclose(vocab.text_feats,
                               eager.text_feats.numpy(), atol=1e-6)


def test_a_file_of_other_weights_is_refused(files):
    det = ORTDetector(files['onnx'], num_threads=1)
    with pytest.raises(PromptEmbeddingsError) as err:
        det.load_prompt_embeddings(files['other'])
    assert files['other'] in str(err.value)
    assert 'another model' in str(err.value)
    with pytest.raises(PromptEmbeddingsError, match='another model'):
        ORTInferencer(files['config'], files['onnx'], files['ckpt'],
                      num_threads=1, exemplars=files['other'],
                      show_progress=False)
