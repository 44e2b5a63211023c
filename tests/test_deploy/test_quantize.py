# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Static INT8 quantization of exported detectors: a tiny RTVPNet and
YOLOv8 (random weights with estimated BatchNorm statistics, 128 px) are
quantized with a calibration folder; the INT8 file keeps its inputs (the
run-time vocabulary's dynamic K included) and metadata, keeps the fragile
nodes in float, and its outputs stay close to the float file's on images
it was not calibrated on."""
import os.path as osp

import cv2
import numpy as np
import onnx
import pytest
import torch

from mmioc_rtvp.deploy import (ExportableDetector, ORTDetector,
                               build_metadata, export_onnx)
from mmioc_rtvp.deploy.quantize import (calibration_images, float_nodes,
                                        letterbox, quantize_detector,
                                        read_file_metadata)
from tests.test_deploy.test_onnx_parity import SIZE, build_mini
from tests.utils.scripts import load_script

tool = load_script('tools/deploy/quantize_onnx.py', 'quantize_onnx_tool')
# float vs INT8 on held-out images: 99 % of the scores (in (0, 1)) within
# SCORE_ATOL, all within SCORE_MAX; the boxes of the 100 priors with the
# best float scores overlap with a median IoU above MIN_MEDIAN_IOU (random
# weights decode to large, loose boxes: a pixel tolerance would say little)
SCORE_ATOL = 0.1
SCORE_MAX = 0.2
MIN_MEDIAN_IOU = 0.8


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of row-aligned xyxy boxes (N, 4)."""
    lt, rb = np.maximum(a[:, :2], b[:, :2]), np.minimum(a[:, 2:], b[:, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=1)
    area_a, area_b = (np.clip(x[:, 2:] - x[:, :2], 0, None).prod(axis=1)
                      for x in (a, b))
    return inter / np.maximum(area_a + area_b - inter, 1e-9)


def _write_images(folder, count: int, seed: int) -> str:
    """Textured images with dark and bright blobs, 150 x 170."""
    rng = np.random.default_rng(seed)
    folder.mkdir()
    for i in range(count):
        base = cv2.GaussianBlur(
            rng.integers(0, 255, (150, 170, 3), dtype=np.uint8), (9, 9), 3)
        for _ in range(3):
            x, y = int(rng.integers(10, 160)), int(rng.integers(10, 140))
            color = [int(c) for c in rng.integers(0, 255, 3)]
            cv2.circle(base, (x, y), int(rng.integers(4, 15)), color, -1)
        cv2.imwrite(str(folder / f'{i:02d}.png'), base)
    (folder / 'notes.txt').write_text('not an image')  # skipped
    return str(folder)


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp('quant')
    calib = _write_images(root / 'calib', 8, 0)
    held_out = _write_images(root / 'held_out', 3, 1)
    gen = torch.Generator().manual_seed(3)
    feats = torch.nn.functional.normalize(
        torch.randn(5, 384, generator=gen), dim=-1).numpy()
    out = dict(calib=calib, held_out=held_out, feats=feats)
    for name in ('rtvpnet', 'yolov8'):
        exportable = ExportableDetector(
            build_mini(name), runtime_vocabulary=name == 'rtvpnet')
        path = str(root / f'{name}.onnx')
        export_onnx(exportable, path, (SIZE, SIZE),
                    build_metadata(exportable, (SIZE, SIZE)))
        out[name] = path
    return out


def _outputs(path, images, feats=None):
    det = ORTDetector(path, num_threads=1)
    return [det.forward(img, feats) for img in images]


@pytest.mark.parametrize('name', ['rtvpnet', 'yolov8'])
def test_int8_outputs_close_to_float(files, tmp_path, name):
    feats = files['feats'] if name == 'rtvpnet' else None
    if feats is not None:
        assert feats.shape[1] == read_file_metadata(
            files[name])['embed_dims']
    out = quantize_detector(files[name], str(tmp_path / 'int8.onnx'),
                            files['calib'], text_feats=feats)
    meta = read_file_metadata(out)
    assert meta['quantization']['calibration_images'] == 8
    assert meta['kind'] == read_file_metadata(files[name])['kind']
    graph = onnx.load(out).graph
    ops = [n.op_type for n in graph.node]
    assert ops.count('QuantizeLinear') > 10, 'nothing was quantized'
    # the fragile nodes compute in float: a kept Conv / MatMul has no
    # quantized second operand (weights / text side), so no INT8 kernel
    # runs it; the graph outputs do not come out of a dequantizer
    kept = set(float_nodes(files[name]))
    producers = {o: n.op_type for n in graph.node for o in n.output}
    survivors = [n for n in graph.node if n.name in kept]
    assert len(survivors) > 5
    for node in survivors:
        if node.op_type in ('Conv', 'MatMul'):
            assert producers.get(node.input[1]) != 'DequantizeLinear', \
                node.name
    quantized = [n for n in graph.node if n.op_type == 'Conv'
                 and producers.get(n.input[1]) == 'DequantizeLinear']
    assert len(quantized) > 10
    for output in graph.output:
        assert producers[output.name] != 'DequantizeLinear'
    images = list(calibration_images(
        files['held_out'], (SIZE, SIZE), meta['preprocess']))
    assert len(images) == 3
    ref, int8 = (_outputs(p, images, feats) for p in (files[name], out))
    for (b0, s0), (b1, s1) in zip(ref, int8):
        assert s0.shape == s1.shape and b0.shape == b1.shape
        diff = np.abs(s0 - s1)
        assert np.percentile(diff, 99) < SCORE_ATOL
        assert diff.max() < SCORE_MAX
        best = np.argsort(-s0[0].max(axis=1))[:100]
        assert np.median(_iou(b0[0, best], b1[0, best])) > MIN_MEDIAN_IOU
        # not a constant output: the scores vary over the priors
        assert s1.std() > 1e-3
    if name == 'rtvpnet':  # the vocabulary is still a run-time input
        k3 = ORTDetector(out).forward(images[0], feats[:3])[1]
        assert k3.shape[-1] == 3


def test_float_nodes_cover_decoding_and_similarity(files):
    names = float_nodes(files['rtvpnet'])
    graph = onnx.load(files['rtvpnet']).graph
    by_name = {n.name: n for n in graph.node}
    kept = [by_name[n] for n in names]
    assert any(n.op_type == 'Sigmoid' for n in kept)
    assert any('cls_contrasts' in n.name for n in kept)
    # the head's box distribution (softmax + projection) is decoding
    assert any(n.op_type == 'MatMul' and 'bbox_head' in n.name
               for n in kept)
    decoding = [n for n in graph.node if n.name.count('/') < 2]
    assert decoding and all(n.name in names for n in decoding)
    convs = [n for n in graph.node if n.op_type == 'Conv']
    assert sum(n.name in names for n in convs) < len(convs) / 4


def test_errors_name_the_cause(files, tmp_path):
    with pytest.raises(ValueError, match='takes the vocabulary at run time'):
        quantize_detector(files['rtvpnet'], str(tmp_path / 'a.onnx'),
                          files['calib'])
    with pytest.raises(ValueError, match='takes no text_feats'):
        quantize_detector(files['yolov8'], str(tmp_path / 'b.onnx'),
                          files['calib'], text_feats=files['feats'])
    with pytest.raises(ValueError, match=r'must be \(K, 384\)'):
        quantize_detector(files['rtvpnet'], str(tmp_path / 'c.onnx'),
                          files['calib'], text_feats=files['feats'][:, :9])
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(ValueError, match='holds no image'):
        quantize_detector(files['yolov8'], str(tmp_path / 'd.onnx'),
                          str(empty))


def test_letterbox_keeps_aspect_and_normalises():
    img = np.zeros((50, 100, 3), dtype=np.uint8)
    img[..., 0] = 255  # blue in BGR
    out = letterbox(img, (64, 64), dict(mean=[0, 0, 0],
                                        std=[255, 255, 255],
                                        bgr_to_rgb=True))
    assert out.shape == (1, 3, 64, 64) and out.dtype == np.float32
    # 100 x 50 -> 64 x 32, padded by 16 rows above and below
    assert np.allclose(out[0, 2, 16:48], 1.0)  # blue is channel 2 in RGB
    assert np.allclose(out[0, :, :16], 114 / 255)


def test_tool_with_embeddings_file(files, tmp_path, capsys):
    np.save(tmp_path / 'feats.npy', files['feats'])
    out = str(tmp_path / 'tool_int8.onnx')
    assert tool.main([files['rtvpnet'], files['calib'], '--out', out,
                      '--text-feats', str(tmp_path / 'feats.npy'),
                      '--max-images', '4', '--check']) == 0
    printed = capsys.readouterr().out
    assert osp.isfile(out) and 'float vs INT8' in printed
    assert read_file_metadata(out)['quantization'][
        'calibration_images'] == 4
