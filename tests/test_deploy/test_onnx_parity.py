# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Eager (``model.predict``) vs ONNX Runtime detections for the three mini
models (configs/baselines/yolov8_s_closed_mini.py,
configs/baselines/yolo_world_s_open_mini.py, configs/rtvpnet_s_mini.py),
random weights, a 128 px input: same classes, boxes within 1e-3 (relative),
scores within 1e-4; two vocabularies of different sizes through ONE
run-time-vocabulary file, and a baked vocabulary."""
import contextlib
import math
import os.path as osp
from typing import Dict, Iterator, List, Tuple

import numpy as np
import pytest
import torch

from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from mmioc_rtvp.deploy import (ExportableDetector, ORTDetector,
                               build_metadata, export_onnx, read_metadata)
from mmioc_rtvp.registry import MODELS

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SIZE = 128
CONFIGS = {
    'yolov8': 'configs/baselines/yolov8_s_closed_mini.py',
    'yolo_world': 'configs/baselines/yolo_world_s_open_mini.py',
    'rtvpnet': 'configs/rtvpnet_s_mini.py',
}
VOCAB_A = ['scratch on steel', 'hole in wood', 'stain on fabric']
VOCAB_B = [
    'crack in concrete', 'missing part of a gear', 'spot on glass',
    'dent in aluminum', 'burr on a cast part'
]
# the test pipeline's mapping back to the original image: exercised too
IMG_META = dict(
    img_shape=(SIZE, SIZE),
    ori_shape=(150, 170),
    scale_factor=(0.75, 0.8),
    pad_param=np.array([4.0, 6.0, 2.0, 3.0], dtype=np.float32))
BOX_RTOL = 1e-3
SCORE_ATOL = 1e-4
#: pixels below which BOX_RTOL is taken of this floor (float32 noise near 0)
BOX_SCALE_FLOOR = 16.0


def build_mini(name: str) -> torch.nn.Module:
    """A mini model with random weights that produces detections.

    With the configs' initialisation and BatchNorm's initial statistics
    the features shrink level after level and every class gets almost the
    same score near 0: the BatchNorm statistics are therefore estimated on
    two random images, the class biases zeroed and the logits scaled down
    (scores spread over (0, 1), few ties: hundreds of boxes reach NMS in a
    defined order);
    RTVPNet's prompt adapters (zero-initialised) get random weights and its
    V-T scale 1, so the visual prompts and the text update change the
    output.
    """
    cfg = Config.fromfile(osp.join(REPO_ROOT, CONFIGS[name]))
    init_default_scope(cfg.get('default_scope', 'mmioc_rtvp'))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    head = model.bbox_head.head_module
    with torch.no_grad():
        for cls_pred in head.cls_preds:
            cls_pred[-1].bias.zero_()
        for contrast in getattr(head, 'cls_contrasts', []):
            contrast.bias.zero_()
        if name == 'rtvpnet':
            for adapter in model.prompt_adapters:
                adapter.weight.normal_(0, 0.1)
            model.visual_text.scale.fill_(1.0)
    estimate_bn_statistics(model, name != 'yolov8')
    with torch.no_grad():  # logits / 10: no scores saturated at 1.0
        for cls_pred in head.cls_preds:
            cls_pred[-1].weight.div_(10)
        for contrast in getattr(head, 'cls_contrasts', []):
            contrast.logit_scale.sub_(math.log(10))
    return model.eval()


def estimate_bn_statistics(model: torch.nn.Module, open_vocab: bool) -> None:
    """Set every BatchNorm's statistics to those of one training-mode
    forward of two random images (and a random vocabulary)."""
    norms = [m for m in model.modules()
             if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: one batch sets the stats
    gen = torch.Generator().manual_seed(2)
    images = torch.rand(2, 3, SIZE, SIZE, generator=gen)
    exportable = ExportableDetector(model, runtime_vocabulary=open_vocab)
    feats = None
    if open_vocab:
        feats = torch.nn.functional.normalize(
            torch.randn(2, 4, exportable.embed_dims, generator=gen), dim=-1)
    model.train()
    with torch.no_grad():
        exportable(images, feats)
    model.eval()


def sample() -> DetDataSample:
    """A test sample with :data:`IMG_META`."""
    return DetDataSample(metainfo=dict(IMG_META))


def eager_predict(model: torch.nn.Module, image: torch.Tensor,
                  vocabulary: List[str] = None) -> InstanceData:
    """``model.predict`` (the vocabulary reparameterized first)."""
    if vocabulary is not None:
        model.reparameterize([vocabulary])
    with torch.no_grad():
        return model.predict(image, [sample()], rescale=True)[0] \
            .pred_instances


def assert_same_detections(eager: InstanceData,
                           ort: Dict[str, np.ndarray],
                           min_count: int = 11) -> Tuple[float, float]:
    """Equal counts and a one-to-one match: same label, every box
    coordinate within 1e-3 relative (to max(|x|, 16 px): a coordinate near
    the image border, e.g. 9.7 px, may differ by float32 noise of 0.01 px
    between the two backends), score within 1e-4; at least ``min_count``
    detections (a meaningful check).

    Returns:
        tuple[float, float]: The largest relative box difference and the
        largest score difference of the matched pairs.
    """
    e_boxes = eager.bboxes.numpy()
    e_scores = eager.scores.numpy()
    e_labels = eager.labels.numpy()
    assert len(e_boxes) >= min_count, 'too few detections to compare'
    assert len(ort['bboxes']) == len(e_boxes)
    used = np.zeros(len(e_boxes), dtype=bool)
    worst_box = worst_score = 0.0
    for i in range(len(e_boxes)):
        scale = np.maximum(np.abs(e_boxes[i]), BOX_SCALE_FLOOR)
        box_diff = np.abs(ort['bboxes'] - e_boxes[i]) / scale  # (M, 4)
        score_diff = np.abs(ort['scores'] - e_scores[i])
        match = (~used & (ort['labels'] == e_labels[i])
                 & (score_diff <= SCORE_ATOL)
                 & np.all(box_diff <= BOX_RTOL, axis=1))
        found = np.flatnonzero(match)
        assert found.size, (f'eager detection {i} (label {e_labels[i]}, '
                            f'score {e_scores[i]:.5f}) has no match')
        used[found[0]] = True
        worst_box = max(worst_box, float(box_diff[found[0]].max()))
        worst_score = max(worst_score, float(score_diff[found[0]]))
    return worst_box, worst_score


@contextlib.contextmanager
def without_visual_text(model: torch.nn.Module) -> Iterator[None]:
    """RTVPNet with its V-T update switched off, for the duration."""
    saved = model.visual_text
    model.visual_text = None
    try:
        yield
    finally:
        model.visual_text = saved


@pytest.fixture(scope='module')
def image() -> torch.Tensor:
    """One preprocessed (1, 3, 128, 128) input."""
    return torch.rand(1, 3, SIZE, SIZE, generator=torch.Generator()
                      .manual_seed(1))


@pytest.fixture(scope='module')
def exported(tmp_path_factory) -> Dict[str, Tuple[torch.nn.Module, str]]:
    """Each mini model and its ONNX file (run-time vocabulary for the open
    models)."""
    root = tmp_path_factory.mktemp('onnx')
    out = {}
    for name in CONFIGS:
        model = build_mini(name)
        exportable = ExportableDetector(
            model, runtime_vocabulary=name != 'yolov8')
        meta = build_metadata(exportable, (SIZE, SIZE))
        path = str(root / f'{name}.onnx')
        export_onnx(exportable, path, (SIZE, SIZE), meta)
        out[name] = (model, path)
    return out


def test_yolov8_closed_parity(exported, image):
    model, path = exported['yolov8']
    det = ORTDetector(path, num_threads=1)
    assert not det.runtime_vocabulary
    assert det.metadata['kind'] == 'closed'
    assert det.metadata['num_classes'] == model.bbox_head.num_classes
    assert_same_detections(
        eager_predict(model, image),
        det.predict(image.numpy(), img_meta=IMG_META))


@pytest.mark.parametrize('name', ['yolo_world', 'rtvpnet'])
def test_two_vocabularies_one_file(exported, image, name):
    model, path = exported[name]
    det = ORTDetector(path, num_threads=1)
    meta = read_metadata(path)
    assert meta['kind'] == 'runtime_vocabulary'
    assert meta['num_classes'] is None
    results = []
    for vocab in (VOCAB_A, VOCAB_B):
        eager = eager_predict(model, image, vocab)
        text_feats = model.text_feats.numpy()  # (1, K, D), from MiniLM
        boxes, scores = det.forward(image.numpy(), text_feats)
        assert scores.shape == (1, boxes.shape[1], len(vocab))
        ort = det.predict(image.numpy(), text_feats, IMG_META)
        assert_same_detections(eager, ort)
        assert set(ort['labels'].tolist()) <= set(range(len(vocab)))
        results.append(ort)
    # the second vocabulary found other classes (K=5 labels beyond 0..2)
    assert results[1]['labels'].max() >= len(VOCAB_A)


def test_rtvpnet_graph_contains_the_visual_text_update(exported, image):
    """With the V-T update removed, the eager scores move away from the ONNX
    ones: the update is in the graph and changes the result."""
    model, path = exported['rtvpnet']
    model.reparameterize([VOCAB_A])
    feats = model.text_feats
    exportable = ExportableDetector(model, runtime_vocabulary=True)
    _, ort_scores = ORTDetector(path, num_threads=1).forward(
        image.numpy(), feats.numpy())
    with torch.no_grad():
        _, scores = exportable(image, feats)
        with without_visual_text(model):
            _, scores_no_vt = exportable(image, feats)
    assert np.abs(ort_scores - scores.numpy()).max() <= SCORE_ATOL
    assert np.abs(ort_scores - scores_no_vt.numpy()).max() > 100 * SCORE_ATOL


def test_baked_vocabulary_parity(exported, image, tmp_path):
    model, _ = exported['rtvpnet']
    model.reparameterize([VOCAB_B])
    exportable = ExportableDetector(model)
    meta = build_metadata(exportable, (SIZE, SIZE), vocabulary=VOCAB_B)
    path = export_onnx(exportable, str(tmp_path / 'baked.onnx'),
                       (SIZE, SIZE), meta)
    det = ORTDetector(path, num_threads=1)
    assert not det.runtime_vocabulary
    assert det.class_names == VOCAB_B
    assert_same_detections(
        eager_predict(model, image),
        det.predict(image.numpy(), img_meta=IMG_META))
    with pytest.raises(ValueError, match='baked vocabulary'):
        det.forward(image.numpy(), model.text_feats.numpy())


def test_runner_refuses_bad_inputs(exported, image):
    _, path = exported['yolo_world']
    det = ORTDetector(path, num_threads=1)
    d = det.metadata['embed_dims']
    with pytest.raises(ValueError, match='empty vocabulary'):
        det.forward(image.numpy(), np.zeros((1, 0, d), np.float32))
    with pytest.raises(ValueError, match=r'text_feats must be \(1, K, '):
        det.forward(image.numpy(), np.zeros((1, 3, d + 1), np.float32))
    with pytest.raises(ValueError, match='give text_feats'):
        det.forward(image.numpy())
    with pytest.raises(ValueError, match='fixed at export'):
        det.forward(np.zeros((1, 3, 64, 64), np.float32),
                    np.zeros((1, 3, d), np.float32))


def test_exportable_refuses_wrong_kinds(exported):
    yolov8, _ = exported['yolov8']
    with pytest.raises(ValueError, match='closed-set detector'):
        ExportableDetector(yolov8, runtime_vocabulary=True)
    world = build_mini('yolo_world')  # fresh: not reparameterized
    with pytest.raises(ValueError, match='needs the vocabulary'):
        ExportableDetector(world)
    with pytest.raises(ValueError, match=r'\(1, K, D=384\)'):
        ExportableDetector(world, text_feats=torch.zeros(1, 3, 16))
    with pytest.raises(ValueError, match='empty'):
        ExportableDetector(world, text_feats=torch.zeros(1, 0, 384))


def test_tinyvit_encoder_exports(tmp_path):
    """RTVPNet with the Mobile-SAM TinyViT encoder (the S/L configs'): its
    channel LayerNorm is swapped for :class:`ExportLayerNorm2d` in the
    exported copy only; the raw outputs match eager ones."""
    from mmioc_rtvp.deploy.export_layer_norm2d import ExportLayerNorm2d
    from mmioc_rtvp.models.layers.tinyvit_blocks import TinyViTLayerNorm2d
    from tests.test_models.rtvpnet_utils import build_tiny_rtvpnet

    norm = TinyViTLayerNorm2d(6)
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    x = torch.randn(2, 6, 5, 4)
    torch.testing.assert_close(ExportLayerNorm2d(norm)(x), norm(x))

    torch.manual_seed(0)
    model = build_tiny_rtvpnet().eval()
    with torch.no_grad():  # zero-initialised: make the prompts count
        for adapter in model.prompt_adapters:
            adapter.weight.normal_(0, 0.1)
    exportable = ExportableDetector(model, runtime_vocabulary=True)
    path = export_onnx(exportable, str(tmp_path / 'tiny.onnx'), (64, 64),
                       build_metadata(exportable, (64, 64)))
    assert any(isinstance(m, TinyViTLayerNorm2d) for m in model.modules())
    assert not any(isinstance(m, ExportLayerNorm2d) for m in model.modules())
    gen = torch.Generator().manual_seed(3)
    image = torch.rand(1, 3, 64, 64, generator=gen)
    feats = torch.nn.functional.normalize(
        torch.randn(1, 2, exportable.embed_dims, generator=gen), dim=-1)
    with torch.no_grad():
        boxes, scores = exportable(image, feats)
    ort_boxes, ort_scores = ORTDetector(path, num_threads=1).forward(
        image.numpy(), feats.numpy())
    np.testing.assert_allclose(ort_boxes, boxes.numpy(), rtol=1e-3,
                               atol=1e-3)
    np.testing.assert_allclose(ort_scores, scores.numpy(), rtol=0,
                               atol=SCORE_ATOL)


def test_runner_checks_embeddings_finite_and_unit(exported, image):
    """A NaN/Inf or zero embedding is refused naming its row; a row that
    is not a unit vector is normalised with a warning (same output as the
    normalised input)."""
    model, path = exported['yolo_world']
    det = ORTDetector(path, num_threads=1)
    eager_predict(model, image, VOCAB_A)
    feats = model.text_feats.numpy().copy()  # (1, K, D), unit rows
    assert np.allclose(np.linalg.norm(feats, axis=-1), 1, atol=1e-5)
    for value in (np.nan, np.inf):
        bad = feats.copy()
        bad[0, 1, 3] = value
        with pytest.raises(ValueError,
                           match=r'row\(s\) \[1\] of K=3 hold NaN or Inf'):
            det.forward(image.numpy(), bad)
    zero = feats.copy()
    zero[0, 2] = 0
    with pytest.raises(ValueError, match=r'row\(s\) \[2\] .* zero vectors'):
        det.forward(image.numpy(), zero)
    scaled = feats.copy()
    scaled[0, 0] *= 3.0
    with pytest.warns(UserWarning,
                      match=r'row\(s\) \[0\] of K=3 are not unit vectors'):
        _, scores = det.forward(image.numpy(), scaled)
    _, expected = det.forward(image.numpy(), feats)
    assert np.abs(scores - expected).max() <= 1e-5
    # within the tolerance: used as given, no warning
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        det.forward(image.numpy(), feats * (1 + 1e-5))
