# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Tests of MMIOCInferencer on a tiny RTVPNet (128 px, random weights)."""
import json
import os
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

from mmioc_rtvp.apis import MMIOCInferencer, OKNGThreshold
from mmioc_rtvp.apis.image_pipeline import find_pipeline
from mmioc_rtvp.apis.inference_inputs import NOT_AN_IMAGE_NAME
from mmioc_rtvp.apis.ok_ng import default_threshold_file
from mmioc_rtvp.registry import MODELS
from .conftest import CLASS_PROMPTS, save_checkpoint
from .odd_images import write_video

pytestmark = pytest.mark.usefixtures('one_thread')
SINGLE = [p[0] for p in CLASS_PROMPTS]


def reference_detections(config, checkpoint, image_path, texts):
    """The detector's own path: reparameterize + test pipeline + test_step
    (what tools/image_demo.py did before the inferencer)."""
    init_default_scope('mmioc_rtvp')
    cfg = Config.fromfile(config)
    model = MODELS.build(cfg.model)
    state = torch.load(checkpoint, weights_only=True)['state_dict']
    model.load_state_dict(state)
    model.eval()
    model.reparameterize([texts])
    from mmengine.dataset import Compose
    steps = [
        s for s in cfg.test_dataloader.dataset.pipeline
        if str(s['type']).split('.')[-1] not in ('LoadAnnotations',
                                                 'LoadText')
    ]
    data = Compose(steps)(dict(img_path=image_path, img_id=0))
    with torch.no_grad():
        return model.test_step(pseudo_collate([data]))[0].pred_instances


def test_detections_equal_the_detectors_own_path(tiny_config,
                                                 tiny_checkpoint, images,
                                                 inferencer):
    out = inferencer(images[0], texts=SINGLE)
    pred = out['predictions'][0]
    ref = reference_detections(tiny_config, tiny_checkpoint, images[0],
                               SINGLE)
    assert len(pred['scores']) == len(ref.scores) > 0
    np.testing.assert_allclose(pred['bboxes'], ref.bboxes.numpy(),
                               rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(pred['scores'], ref.scores.numpy(),
                               rtol=1e-5, atol=1e-6)
    assert pred['labels'] == ref.labels.tolist()
    assert pred['label_names'] == [SINGLE[i] for i in pred['labels']]
    assert pred['defect_score'] == pytest.approx(max(pred['scores']))


def test_prompt_ensemble_averages_unit_embeddings(inferencer):
    inferencer.set_vocabulary(CLASS_PROMPTS)
    encoder = inferencer.model.backbone.text_model
    expected = []
    for prompts in CLASS_PROMPTS:
        embeds = encoder([prompts])[0]  # (P, D), unit rows
        expected.append(F.normalize(embeds.mean(0), dim=0))
    torch.testing.assert_close(inferencer.text_feats[0],
                               torch.stack(expected))
    assert inferencer.classes == SINGLE
    # the ensemble differs from the first prompt alone
    first = encoder([[CLASS_PROMPTS[0][0]]])[0, 0]
    assert not torch.allclose(inferencer.text_feats[0, 0], first)


def test_folder_glob_skipped_and_counts_reconcile(images, inferencer,
                                                  tmp_path):
    folder = tmp_path / 'parts'
    shutil.copytree(osp.dirname(images[0]), folder)
    (folder / 'broken.png').write_bytes(b'not an image')
    (folder / 'notes.txt').write_text('ignored: not an image extension')
    out = inferencer(str(folder), texts=SINGLE, batch_size=2)
    names = [p['image'] for p in out['predictions']]
    assert sorted(osp.basename(n) for n in names) == [
        'img_0.png', 'img_1.png', 'img_2.png'
    ]
    # every file of the folder is accounted for: read, or skipped with why
    assert out['skipped'] == [
        (str(folder / 'broken.png'), 'not a decodable image'),
        (str(folder / 'notes.txt'), NOT_AN_IMAGE_NAME)]
    assert len(names) + len(out['skipped']) == len(os.listdir(folder))
    out = inferencer([str(folder / 'img_*.png'), str(folder / 'gone.png'),
                      str(folder / 'x*.jpg')], texts=SINGLE)
    assert len(out['predictions']) == 3
    assert out['skipped'] == [(str(folder / 'gone.png'), 'no such file'),
                              (str(folder / 'x*.jpg'),
                               'the pattern matches no file')]


def test_batches_give_the_single_image_results(images, inferencer):
    one = [inferencer(p, texts=SINGLE)['predictions'][0] for p in images]
    batched = inferencer(images, texts=SINGLE, batch_size=3)['predictions']
    for a, b in zip(one, batched):
        assert a['labels'] == b['labels']
        np.testing.assert_allclose(a['scores'], b['scores'], atol=1e-5)


def test_empty_vocabulary_is_refused(inferencer):
    with pytest.raises(ValueError, match='empty vocabulary'):
        inferencer.set_vocabulary([])
    with pytest.raises(ValueError, match='non-empty string'):
        inferencer.set_vocabulary(['scratch on metal', ' '])


def test_checkpoint_config_mismatch_names_both(tiny_config, tmp_path):
    init_default_scope('mmioc_rtvp')
    cfg = Config.fromfile(tiny_config)
    cfg.model.neck.widen_factor = 0.25  # other channel counts
    cfg.model.bbox_head.head_module.widen_factor = 0.25
    other = save_checkpoint(MODELS.build(cfg.model), tmp_path / 'other.pth')
    with pytest.raises(ValueError) as err:
        MMIOCInferencer(model=tiny_config, weights=other, device='cpu')
    message = str(err.value)
    assert other in message and tiny_config in message
    assert 'other shapes' in message


def test_coco_results_verdicts_and_drawn_images(images, tiny_config,
                                                tiny_checkpoint, tmp_path):
    inferencer = MMIOCInferencer(
        model=tiny_config, weights=tiny_checkpoint, device='cpu',
        texts=SINGLE, ok_ng_threshold=0.0, show_progress=False)
    out = inferencer(images[:2], out_dir=str(tmp_path), no_save_pred=False,
                     pred_score_thr=0.99)
    with open(tmp_path / 'predictions.json') as f:
        coco = json.load(f)
    assert [c['name'] for c in coco['categories']] == SINGLE
    assert [i['file_name'] for i in coco['images']] == images[:2]
    assert (coco['images'][0]['height'], coco['images'][0]['width']) == (96,
                                                                         128)
    first = [a for a in coco['annotations'] if a['image_id'] == 1]
    pred = out['predictions'][0]
    x1, y1, x2, y2 = pred['bboxes'][0]
    assert first[0]['bbox'] == pytest.approx([x1, y1, x2 - x1, y2 - y1])
    assert first[0]['category_id'] == pred['labels'][0] + 1
    assert len(coco['annotations']) == sum(
        len(p['scores']) for p in out['predictions'])
    # threshold 0: every image is NG; a threshold above every score: OK
    assert [i['verdict'] for i in coco['images']] == ['NG', 'NG']
    assert sorted(p.name for p in (tmp_path / 'vis').iterdir()) == [
        'img_0.png', 'img_1.png'
    ]
    inferencer.ok_ng = OKNGThreshold(threshold=1.01)
    out = inferencer(images[:1])
    assert out['predictions'][0]['verdict'] == 'OK'


def test_threshold_file_next_to_the_checkpoint_is_read(
        tiny_config, tiny_checkpoint, tmp_path):
    weights = tmp_path / 'model.pth'
    shutil.copy(tiny_checkpoint, weights)
    OKNGThreshold(threshold=0.42, method='f1').dump(
        default_threshold_file(str(weights)))
    inferencer = MMIOCInferencer(
        model=tiny_config, weights=str(weights), device='cpu',
        show_progress=False)
    assert inferencer.ok_ng.threshold == 0.42
    # the checkpoint's training classes are the default vocabulary
    assert inferencer.classes == ['hole in wood', 'crack in wood']


def test_video_frames_with_stride(images, inferencer, tmp_path):
    path = write_video(str(tmp_path / 'line.avi'), 5)
    out = inferencer(path, texts=SINGLE, frame_stride=2)
    assert [p['image'] for p in out['predictions']] == [
        f'{path}#0', f'{path}#2', f'{path}#4'
    ]


def test_return_datasamples_carry_the_verdict(images, inferencer):
    inferencer.ok_ng = OKNGThreshold(threshold=0.0)
    try:
        out = inferencer(cv2.imread(images[0]), texts=SINGLE,
                         return_datasamples=True)
    finally:
        inferencer.ok_ng = None
    sample = out['predictions'][0]
    assert sample.verdict == 'NG' and sample.image_name == 'array_0'
    assert sample.defect_score == pytest.approx(
        float(sample.pred_instances.scores.max()))


def test_closed_set_model_uses_its_classes_and_refuses_texts(
        images, tmp_path):
    config = osp.join(osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))), 'configs', 'baselines',
        'yolov8_s_closed_mini.py')
    init_default_scope('mmioc_rtvp')
    cfg = Config.fromfile(config)
    classes = tuple(f'defect {i}' for i in range(
        cfg.model.bbox_head.head_module.num_classes))
    weights = save_checkpoint(MODELS.build(cfg.model), tmp_path / 'y8.pth',
                              dataset_meta=dict(classes=classes))
    inferencer = MMIOCInferencer(model=config, weights=weights,
                                 device='cpu', show_progress=False)
    assert not inferencer.open_vocabulary
    pred = inferencer(images[0])['predictions'][0]
    assert pred['label_names'] == [classes[i] for i in pred['labels']]
    with pytest.raises(ValueError, match='closed-set detector'):
        inferencer(images[0], texts=['scratch on metal'])


def test_pipeline_is_found_in_wrapped_and_concatenated_datasets():
    steps = [dict(type='LoadImageFromFile')]
    wrapped = dict(type='MultiModalDataset', dataset=dict(type='X'),
                   pipeline=steps)
    concat = dict(type='ConcatDataset',
                  datasets=[dict(type='Y', dataset=dict(pipeline=steps)),
                            dict(type='Z', pipeline=[])])
    assert find_pipeline(wrapped) is steps
    assert find_pipeline(concat) is steps
    assert find_pipeline(dict(type='X')) is None
