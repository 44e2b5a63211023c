# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""tools/deploy/test_onnx.py on a tiny test set: a random-weight
RTVPNet-S-mini exported at the config's 320 px, four images, three
classes with non-contiguous category ids listed out of id order, and a
ground truth made of the model's own best detections (found by
``ORTInferencer`` on the image files, a path independent of the tool's
dataset and evaluator). The tool's figures must equal those of the same
detections scored directly by ``MMIOCMetric``, and be high (a class or
image mix-up would sink them); its image and detection counts must be
those of the test set and of the detections; an INT8 file runs the same
way; a file of another input size and a missing annotation file are
refused with one-line errors."""
import json
import os.path as osp

import pytest
import torch

from mmioc_rtvp.deploy import ExportableDetector, build_metadata, export_onnx
from mmioc_rtvp.deploy.quantize import quantize_detector
from tests.test_deploy.test_onnx_parity import build_mini
from tests.test_deploy.test_quantize import _write_images
from tests.utils.scripts import REPO_ROOT, load_script

tool = load_script('tools/deploy/test_onnx.py', 'test_onnx_tool')

CONFIG = osp.join(REPO_ROOT, 'configs/rtvpnet_s_mini.py')
SIZE = 320  # the config's test pipeline
#: category ids (file order = label order) and names = class prompts
CATEGORIES = [(12, 'hole in wood'), (3, 'scratch on steel'),
              (7, 'stain on fabric')]
#: ground-truth boxes taken from the best detections
GT_COUNT = 30


@pytest.fixture(scope='module')
def test_set(tmp_path_factory):
    """A data root with 4 images, a class-text file, the exported files
    and an annotation file whose boxes are the model's best detections."""
    from mmioc_rtvp.deploy.ort_inferencer import ORTInferencer
    root = tmp_path_factory.mktemp('onnx_test_set')
    (root / 'images').mkdir()
    _write_images(root / 'images' / 'scene', 4, 5)
    (root / 'texts').mkdir()
    (root / 'texts' / 'classes.json').write_text(
        json.dumps([[name] for _, name in CATEGORIES]))
    model = build_mini('rtvpnet')
    # without the V-T update: with random weights it pulls every class
    # embedding towards one visual vector, the classes would score alike
    # (correlation 0.99 over the priors) and a vocabulary mix-up would not
    # change the figures
    with torch.no_grad():
        model.visual_text.scale.fill_(0.0)
    exportable = ExportableDetector(model, runtime_vocabulary=True)
    files = dict(root=str(root))
    for name, size in (('float', SIZE), ('small', 128)):
        files[name] = str(root / f'{name}.onnx')
        export_onnx(exportable, files[name], (size, size),
                    build_metadata(exportable, (size, size)))
    files['int8'] = quantize_detector(
        files['float'], str(root / 'int8.onnx'), str(root / 'images' /
                                                     'scene'),
        text_feats=torch.nn.functional.normalize(
            torch.randn(3, exportable.embed_dims), dim=-1).numpy(),
        max_images=2)
    names = [f'scene/{i:02d}.png' for i in range(4)]
    inferencer = ORTInferencer(CONFIG, files['float'], num_threads=1,
                               texts=[name for _, name in CATEGORIES],
                               show_progress=False, palette='none')
    preds = inferencer([str(root / 'images' / n) for n in names])[
        'predictions']
    # ground truth: the GT_COUNT best detections of all images (each
    # outscores every other detection, at IoU 1), but for the best one of
    # the last image (a false positive ranked first) and with a box that
    # no detection finds (a missed object)
    threshold = sorted((s for p in preds for s in p['scores']),
                       reverse=True)[GT_COUNT - 1]
    false_positive = max(range(len(preds[3]['scores'])),
                         key=lambda i: preds[3]['scores'][i])
    images = [dict(id=i, file_name=n, width=170, height=150, scene='scene')
              for i, n in enumerate(names, start=1)]
    annotations = [dict(id=1, image_id=1, category_id=CATEGORIES[0][0],
                        bbox=[2, 2, 4, 4], area=16, iscrowd=0)]
    for image_id, pred in enumerate(preds, start=1):
        for i, score in enumerate(pred['scores']):
            if score < threshold or (image_id, i) == (4, false_positive):
                continue
            x1, y1, x2, y2 = pred['bboxes'][i]
            annotations.append(dict(
                id=len(annotations) + 1, image_id=image_id,
                category_id=CATEGORIES[pred['labels'][i]][0],
                bbox=[x1, y1, x2 - x1, y2 - y1],
                area=(x2 - x1) * (y2 - y1), iscrowd=0))
    categories = [dict(id=i, name=n, supercategory='defect', scene='scene',
                       texts=[n]) for i, n in CATEGORIES]
    (root / 'annotations').mkdir()
    ann_file = root / 'annotations' / 'tiny.json'
    ann_file.write_text(json.dumps(dict(images=images,
                                        annotations=annotations,
                                        categories=categories)))
    files.update(ann_file=str(ann_file), preds=preds)
    return files


def _direct_metrics(files) -> dict:
    """The inferencer's detections scored by MMIOCMetric itself."""
    from mmioc_rtvp.evaluation.metrics.mmioc_metric import MMIOCMetric
    metric = MMIOCMetric(ann_file=files['ann_file'], metric='bbox')
    metric.dataset_meta = dict(
        classes=tuple(n for _, n in CATEGORIES),
        supercategories=('defect', ) * 3, scenes=('scene', ) * 3)
    samples = [
        dict(img_id=image_id, ori_shape=(150, 170),
             pred_instances=dict(
                 bboxes=torch.tensor(p['bboxes']).reshape(-1, 4),
                 scores=torch.tensor(p['scores']),
                 labels=torch.tensor(p['labels'])))
        for image_id, p in enumerate(files['preds'], start=1)
    ]
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def _run_tool(files, onnx, out, extra=()):
    return tool.main([
        CONFIG, onnx, '--data-root', files['root'], '--ann-file',
        'annotations/tiny.json', '--class-text', 'texts/classes.json',
        '--out', out, '--threads', '1', '--num-workers', '0', *extra
    ])


def test_tool_figures_equal_direct_scoring(test_set, tmp_path, capsys):
    out = str(tmp_path / 'float.json')
    assert _run_tool(test_set, test_set['float'], out) == 0
    printed = capsys.readouterr().out
    result = json.load(open(out))
    direct = _direct_metrics(test_set)
    assert result['images'] == 4
    assert result['detections'] == sum(len(p['scores'])
                                       for p in test_set['preds'])
    assert result['detections'] > 2 * GT_COUNT
    assert result['kind'] == 'runtime_vocabulary'
    assert result['quantization'] is None
    assert result['ann_file'].endswith('annotations/tiny.json')
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50',
                'coco/bbox_mAP_unrounded', 'coco/bbox_mAP_50_unrounded'):
        assert result['metrics'][key] == pytest.approx(direct[key],
                                                       abs=1e-6), key
    # one false positive ranked first and one missed box: high, not 1, and
    # the same at every IoU threshold (the true positives are at IoU 1)
    assert 0.5 < direct['coco/bbox_mAP_50_unrounded'] < 0.99
    assert direct['coco/bbox_mAP_unrounded'] == pytest.approx(
        direct['coco/bbox_mAP_50_unrounded'])
    assert 'Epoch(test) [4/4]' in printed
    assert 'coco/bbox_mAP: ' in printed


def test_tool_runs_an_int8_file(test_set, tmp_path):
    out = str(tmp_path / 'int8.json')
    assert _run_tool(test_set, test_set['int8'], out) == 0
    result = json.load(open(out))
    assert result['images'] == 4 and result['detections'] > 0
    assert result['quantization']['calibration_images'] == 2
    assert 0 <= result['metrics']['coco/bbox_mAP_50'] <= 1


def test_tool_refuses_mismatches(test_set, tmp_path):
    with pytest.raises(ValueError, match=r'exported for \(128, 128\) inputs'
                       r'.*gives \(320, 320\)'):
        _run_tool(test_set, test_set['small'], str(tmp_path / 'a.json'))
    with pytest.raises(FileNotFoundError, match='missing.json does not '
                       'exist'):
        tool.main([CONFIG, test_set['float'], '--data-root',
                   test_set['root'], '--ann-file', 'missing.json'])


def test_default_out_and_test_set_paths(tmp_path):
    from mmengine.config import Config
    assert tool.default_out('d/m_int8.onnx', 'a/open_val_seen.json') == \
        'd/m_int8.open_val_seen.json'
    cfg = Config.fromfile(CONFIG)
    root = tmp_path / 'root'
    (root / 'annotations').mkdir(parents=True)
    (root / 'texts').mkdir()
    for name in ('annotations/open_val.json',
                 'texts/unseen_class_texts.json'):
        (root / name).write_text('[]')
    ann, text = tool.set_test_set(cfg, data_root=str(root))
    # the config's relative annotation file and class texts follow the root
    assert ann == osp.join(str(root), 'annotations/open_val.json')
    assert text == osp.join(str(root), 'texts/unseen_class_texts.json')
    assert cfg.test_evaluator.ann_file == ann
    assert cfg.test_dataloader.dataset.dataset.data_root == str(root)
