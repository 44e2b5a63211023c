# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Static INT8 quantization (QDQ) of an exported detector, with calibration.

Needs onnxruntime, onnx and numpy (OpenCV to read a calibration folder); no
torch. The input file is one of ``tools/deploy/export_onnx.py`` (any kind;
a run-time vocabulary keeps its ``text_feats`` input). Steps:

1. ``onnxruntime.quantization.quant_pre_process`` (shape inference and
   graph optimisation, so that the quantizer sees fused Conv + BN);
2. calibration: the preprocessed images of a folder (letterboxed to the
   file's input size, normalised with its ``metadata['preprocess']``) and,
   for a run-time vocabulary, the embeddings the line will use;
3. ``quantize_static`` in QDQ format, weights per channel (int8),
   activations uint8, with the numerically fragile nodes kept in float
   (:func:`float_nodes`): the normalisations, the region-text similarity
   and the text branch, every sigmoid, and the box decoding after the head.
   Quantizing them costs detectors their accuracy (YOLO-World #327;
   ultralytics keeps decoding in float), and dynamic quantization of conv
   networks is often slower than float on CPUs (onnxruntime #6732), hence
   static.

The result has the same inputs, outputs and metadata (with a
``quantization`` entry added), so :class:`~mmioc_rtvp.deploy.ORTDetector`
runs it unchanged.
"""
import json
import os
import os.path as osp
import tempfile
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

#: Key of the JSON metadata (same as ``onnx_export.METADATA_KEY``).
METADATA_KEY = 'mmioc_rtvp'
#: Operator types kept in float wherever they are: normalisation and
#: similarity arithmetic (L2 norms, layer norms, softmax, reductions) and
#: sigmoid gates / scores.
FLOAT_OP_TYPES = ('LayerNormalization', 'ReduceL2', 'ReduceMean',
                  'ReduceSum', 'ReduceMax', 'Softmax', 'Sigmoid', 'Einsum',
                  'Sqrt', 'Pow', 'Div', 'Exp', 'Log', 'Clip')
#: Module scopes of the exported graph kept in float: the contrastive
#: (region-text similarity) layers, the V-T text update and the text side of
#: the T-V attention.
FLOAT_SCOPES = ('cls_contrasts', 'visual_text', 'text_')
#: Module scopes where only convolutions are quantized: the head (its
#: distribution-to-distance softmax and projection are box decoding).
CONV_ONLY_SCOPES = ('bbox_head', )
#: Operator types quantized by default: the weight-carrying ones, where the
#: time goes and where INT8 kernels exist.
DEFAULT_OP_TYPES = ('Conv', 'MatMul')


def read_file_metadata(path: str) -> dict:
    """The exporter's JSON metadata of an ONNX file."""
    import onnx
    model = onnx.load(path, load_external_data=False)
    for entry in model.metadata_props:
        if entry.key == METADATA_KEY:
            return json.loads(entry.value)
    raise ValueError(f'{path}: no {METADATA_KEY!r} metadata; it was not '
                     'written by tools/deploy/export_onnx.py')


def letterbox(img: np.ndarray, shape: Tuple[int, int],
              preprocess: dict, pad_value: float = 114.0) -> np.ndarray:
    """A BGR image as the graph input: resized keeping its aspect ratio
    into ``shape``, padded on both sides with ``pad_value``, normalised.

    Args:
        img (np.ndarray): (H, W, 3) uint8 BGR.
        shape (tuple[int, int]): (H', W') of the graph input.
        preprocess (dict): ``mean``, ``std`` (per channel, or None) and
            ``bgr_to_rgb`` of the file's metadata.
        pad_value (float): Padding pixel value (mmyolo's LetterResize).

    Returns:
        np.ndarray: (1, 3, H', W') float32.
    """
    import cv2
    h, w = img.shape[:2]
    out_h, out_w = shape
    scale = min(out_h / h, out_w / w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    resized = cv2.resize(img, (new_w, new_h), interpolation=cv2.INTER_AREA
                         if scale < 1 else cv2.INTER_LINEAR)
    canvas = np.full((out_h, out_w, 3), pad_value, dtype=np.float32)
    top, left = (out_h - new_h) // 2, (out_w - new_w) // 2
    canvas[top:top + new_h, left:left + new_w] = resized
    if preprocess.get('bgr_to_rgb'):
        canvas = canvas[..., ::-1]
    mean = np.asarray(preprocess.get('mean') or 0.0, dtype=np.float32)
    std = np.asarray(preprocess.get('std') or 1.0, dtype=np.float32)
    canvas = (canvas - mean.reshape(-1)) / std.reshape(-1)
    return np.ascontiguousarray(canvas.transpose(2, 0, 1)[None],
                                dtype=np.float32)


def calibration_images(folder: str, shape: Tuple[int, int],
                       preprocess: dict,
                       max_images: Optional[int] = None
                       ) -> Iterator[np.ndarray]:
    """The graph inputs of the images of a folder (sorted by name; files
    that do not decode as images are skipped).

    Yields:
        np.ndarray: (1, 3, H', W') float32, see :func:`letterbox`.
    """
    import cv2
    if not osp.isdir(folder):
        raise FileNotFoundError(f'calibration folder {folder} does not '
                                'exist')
    count = 0
    for name in sorted(os.listdir(folder)):
        if max_images is not None and count >= max_images:
            return
        img = cv2.imread(osp.join(folder, name), cv2.IMREAD_COLOR)
        if img is None:
            continue
        count += 1
        yield letterbox(img, shape, preprocess)
    if count == 0:
        raise ValueError(f'calibration folder {folder} holds no image')


def float_nodes(model_path: str,
                op_types: Sequence[str] = FLOAT_OP_TYPES,
                scopes: Sequence[str] = FLOAT_SCOPES,
                conv_only_scopes: Sequence[str] = CONV_ONLY_SCOPES
                ) -> List[str]:
    """Names of the nodes to keep in float.

    A node is kept in float when its operator type is in ``op_types``,
    when its module path (the exporter names nodes after the module path
    below the detector, ``/bbox_head/head_module/cls_contrasts.0/MatMul``)
    contains one of ``scopes``, when it is not a convolution in one of
    ``conv_only_scopes``, or when it belongs to no module of the detector
    (one path component, ``/Sigmoid``: the wrapper's box decoding and score
    sigmoid).

    Args:
        model_path (str): The (pre-processed) ONNX file.
        op_types (Sequence[str]): Operator types kept in float.
        scopes (Sequence[str]): Module-path fragments kept in float.
        conv_only_scopes (Sequence[str]): Module-path fragments where only
            ``Conv`` nodes may be quantized.

    Returns:
        list[str]: Node names, for ``nodes_to_exclude``.
    """
    import onnx
    graph = onnx.load(model_path, load_external_data=False).graph
    keep = []
    for node in graph.node:
        modules = [p for p in node.name.split('/') if p][:-1]

        def within(fragments: Sequence[str]) -> bool:
            return any(f in m for f in fragments for m in modules)

        if node.op_type in op_types or not modules or within(scopes) or (
                node.op_type != 'Conv' and within(conv_only_scopes)):
            keep.append(node.name)
    return keep


class _CalibrationReader:
    """``CalibrationDataReader`` over prepared input dicts."""

    def __init__(self, feeds: List[Dict[str, np.ndarray]]) -> None:
        self._feeds = iter(feeds)

    def get_next(self) -> Optional[Dict[str, np.ndarray]]:
        return next(self._feeds, None)


def quantize_detector(float_path: str,
                      out_path: str,
                      calibration_folder: str,
                      text_feats: Optional[np.ndarray] = None,
                      max_images: int = 32,
                      op_types: Sequence[str] = DEFAULT_OP_TYPES,
                      per_channel: bool = True,
                      calibrate_method: str = 'MinMax',
                      exclude: Optional[Sequence[str]] = None) -> str:
    """Write the INT8 (QDQ) version of an exported detector.

    Args:
        float_path (str): File of ``tools/deploy/export_onnx.py``.
        out_path (str): Output ``.onnx``.
        calibration_folder (str): Images like those of the line.
        text_feats (np.ndarray, optional): (K, D) or (1, K, D) unit
            embeddings of the vocabulary to calibrate with; required by a
            run-time vocabulary file (its input), refused otherwise.
        max_images (int): Calibration images read. Defaults to 32.
        op_types (Sequence[str]): Operator types to quantize.
        per_channel (bool): Per-output-channel weight scales.
        calibrate_method (str): ``'MinMax'``, ``'Entropy'`` or
            ``'Percentile'`` (onnxruntime's ``CalibrationMethod``).
        exclude (Sequence[str], optional): Node names kept in float;
            default :func:`float_nodes`.

    Returns:
        str: ``out_path``.
    """
    import onnx
    from onnxruntime.quantization import (CalibrationMethod, QuantFormat,
                                          QuantType, quant_pre_process,
                                          quantize_static)
    meta = read_file_metadata(float_path)
    runtime = meta['kind'] == 'runtime_vocabulary'
    feats = _check_text_feats(text_feats, runtime, meta, float_path)
    shape = tuple(int(s) for s in meta['image_shape'])
    feeds = []
    for image in calibration_images(calibration_folder, shape,
                                    meta['preprocess'], max_images):
        feed = dict(image=image)
        if runtime:
            feed['text_feats'] = feats
        feeds.append(feed)
    with tempfile.TemporaryDirectory(prefix='mmioc_quant_') as tmp:
        prepared = osp.join(tmp, 'prepared.onnx')
        quant_pre_process(float_path, prepared, skip_symbolic_shape=True)
        nodes = list(exclude) if exclude is not None else float_nodes(
            prepared)
        os.makedirs(osp.dirname(osp.abspath(out_path)), exist_ok=True)
        quantize_static(
            prepared,
            out_path,
            _CalibrationReader(feeds),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=list(op_types),
            per_channel=per_channel,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=nodes,
            calibrate_method=getattr(CalibrationMethod, calibrate_method))
    model = onnx.load(out_path)
    meta['quantization'] = dict(
        format='QDQ', weights='int8 per channel' if per_channel else 'int8',
        activations='uint8', op_types=list(op_types),
        calibration_images=len(feeds), calibrate_method=calibrate_method,
        float_nodes=len(nodes), float_file=osp.basename(float_path))
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key = METADATA_KEY
    entry.value = json.dumps(meta)
    onnx.save(model, out_path)
    return out_path


def _check_text_feats(text_feats: Optional[np.ndarray], runtime: bool,
                      meta: dict, path: str) -> Optional[np.ndarray]:
    """(1, K, D) float32 embeddings for a run-time vocabulary file."""
    if not runtime:
        if text_feats is not None:
            raise ValueError(f'{path} has a {meta["kind"]} vocabulary: it '
                             'takes no text_feats to calibrate with')
        return None
    d = meta['embed_dims']
    if text_feats is None:
        raise ValueError(f'{path} takes the vocabulary at run time: give the '
                         f'(K, {d}) embeddings of the vocabulary to '
                         'calibrate with')
    feats = np.asarray(text_feats, dtype=np.float32)
    if feats.ndim == 2:
        feats = feats[None]
    if feats.ndim != 3 or feats.shape[0] != 1 or feats.shape[2] != d or \
            feats.shape[1] == 0:
        raise ValueError(f'{path}: calibration text_feats must be (K, {d}) '
                         f'or (1, K, {d}), got {tuple(np.shape(text_feats))}')
    return np.ascontiguousarray(feats)
