# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Write an :class:`ExportableDetector` to ONNX, with its metadata."""
import copy
import json
import os
import os.path as osp
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from mmioc_rtvp.models.layers.tinyvit_blocks import TinyViTLayerNorm2d
from .export_layer_norm2d import ExportLayerNorm2d
from .exportable_detector import ExportableDetector
from .exportable_minilm import ExportableMiniLM
# the key of the JSON metadata in ``metadata_props``: defined by the runner,
# which must not import this module
from .ort_detector import METADATA_KEY

#: Name of the dynamic vocabulary axis (K) of ``text_feats`` and ``scores``.
VOCAB_AXIS = 'num_texts'
#: Name of the dynamic batch axis (B) of every input and output.
BATCH_AXIS = 'batch'
DEFAULT_OPSET = 17


def _plain(value: Any) -> Any:
    """A JSON-serialisable copy of config values (ConfigDict, tuples...)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    if isinstance(value, torch.Tensor):
        return value.tolist()
    return str(value)


def export_friendly_copy(module: nn.Module) -> nn.Module:
    """A deep copy of ``module`` whose layers that do not trace into ONNX
    are replaced by equivalent ones (:class:`ExportLayerNorm2d` for
    :class:`TinyViTLayerNorm2d`); ``module`` itself is not changed.

    Args:
        module (nn.Module): E.g. an :class:`ExportableDetector`.

    Returns:
        nn.Module: The copy.
    """
    module = copy.deepcopy(module)
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, TinyViTLayerNorm2d):
                setattr(parent, name, ExportLayerNorm2d(child))
    return module


def build_metadata(exportable: ExportableDetector,
                   image_shape: Tuple[int, int],
                   vocabulary: Optional[Sequence] = None,
                   class_names: Optional[Sequence[str]] = None,
                   extra: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """What a runner needs besides the graph.

    Args:
        exportable (ExportableDetector): The exported module.
        image_shape (tuple[int, int]): (H, W) of the input.
        vocabulary (Sequence, optional): The classes of a baked
            vocabulary in label order: a prompt or a list of prompts (an
            ensemble) each.
        class_names (Sequence[str], optional): Class names of a closed-set
            model.
        extra (dict, optional): More entries (e.g. the config path).

    Returns:
        dict: ``kind`` (``closed`` / ``baked`` / ``runtime_vocabulary``),
        ``model_type``, ``input_names``, ``output_names``, ``image_shape``,
        ``embed_dims``, ``num_classes`` (fixed K, None at run time),
        ``vocabulary``, ``class_names``, ``test_cfg``, ``preprocess``
        (the data preprocessor's ``mean``, ``std``, ``bgr_to_rgb``: the
        graph input is the preprocessor's output) and ``fingerprint``
        (:func:`~mmioc_rtvp.apis.model_fingerprint.model_fingerprint`: an
        exemplar or tuned embeddings file is accepted only from the same
        weights).
    """
    detector = exportable.detector
    if not exportable.open_vocabulary:
        kind = 'closed'
        num_classes = int(detector.bbox_head.num_classes)
    elif exportable.runtime_vocabulary:
        kind = 'runtime_vocabulary'
        num_classes = None
    else:
        kind = 'baked'
        num_classes = int(exportable.text_feats.shape[1])
    for names, what in ((vocabulary, 'vocabulary entries'),
                        (class_names, 'class names')):
        if names is not None and len(names) != num_classes:
            raise ValueError(f'{len(names)} {what} for a {kind} export of '
                             f'{num_classes} classes')
    preprocessor = detector.data_preprocessor
    preprocess = dict(
        mean=_plain(getattr(preprocessor, 'mean', None)),
        std=_plain(getattr(preprocessor, 'std', None)),
        bgr_to_rgb=bool(getattr(preprocessor, '_channel_conversion', False)))
    from mmioc_rtvp import __version__
    from mmioc_rtvp.apis.model_fingerprint import model_fingerprint
    meta = dict(
        kind=kind,
        model_type=type(detector).__name__,
        input_names=exportable.input_names,
        output_names=exportable.output_names,
        image_shape=[int(s) for s in image_shape],
        embed_dims=exportable.embed_dims,
        num_classes=num_classes,
        vocabulary=list(vocabulary) if vocabulary is not None else None,
        class_names=list(class_names) if class_names is not None else None,
        test_cfg=_plain(detector.test_cfg),
        preprocess=preprocess,
        fingerprint=model_fingerprint(detector),
        mmioc_rtvp_version=__version__)
    meta.update(extra or {})
    return meta


def export_onnx(exportable: ExportableDetector,
                path: str,
                image_shape: Tuple[int, int],
                metadata: Dict[str, Any],
                example_num_texts: int = 4,
                opset: int = DEFAULT_OPSET,
                dynamic_batch: bool = False) -> str:
    """Trace the module into an ONNX file and attach its metadata.

    The image size is fixed (the priors are constants of the graph); the
    batch is 1, or dynamic (``batch``) with ``dynamic_batch``; with a
    run-time vocabulary the K axis of ``text_feats`` (B, K, D) and of
    ``scores`` (B, N, K) is dynamic (``num_texts``). Uses PyTorch's
    TorchScript-based exporter (``dynamo=False``): the detectors'
    Python-side shape checks trace as constants of the fixed image size,
    which the ``torch.export`` path would reject. What is traced is
    :func:`export_friendly_copy` of the module.

    Args:
        exportable (ExportableDetector): The module (eval mode).
        path (str): Output ``.onnx`` file.
        image_shape (tuple[int, int]): (H, W), multiples of the largest
            stride (32).
        metadata (dict): :func:`build_metadata`'s result, stored as JSON
            under ``metadata_props[METADATA_KEY]``.
        example_num_texts (int): K of the example used for tracing.
        opset (int): ONNX opset. Defaults to 17.
        dynamic_batch (bool): Make the batch axis dynamic (traced with a
            batch of 2, so that no batch size becomes a constant); stored
            as ``metadata['dynamic_batch']``.

    Returns:
        str: ``path``.
    """
    h, w = (int(s) for s in image_shape)
    if h % 32 or w % 32 or h <= 0 or w <= 0:
        raise ValueError(f'image size must be positive multiples of 32, got '
                         f'{h}x{w}')
    exportable = export_friendly_copy(exportable).eval()
    param = next(exportable.parameters())
    batch = 2 if dynamic_batch else 1
    args: List[torch.Tensor] = [
        torch.zeros(batch, 3, h, w, dtype=param.dtype, device=param.device)
    ]
    names = exportable.input_names + exportable.output_names
    dynamic_axes = {n: {0: BATCH_AXIS} for n in names} if dynamic_batch \
        else {n: {} for n in names}
    if exportable.runtime_vocabulary:
        gen = torch.Generator().manual_seed(0)
        texts = torch.randn(batch, example_num_texts, exportable.embed_dims,
                            generator=gen)
        args.append(nn.functional.normalize(texts, dim=-1).to(param))
        dynamic_axes['text_feats'][1] = VOCAB_AXIS
        dynamic_axes['scores'][2] = VOCAB_AXIS
    dynamic_axes = {k: v for k, v in dynamic_axes.items() if v} or None
    metadata = dict(metadata, dynamic_batch=bool(dynamic_batch))
    return trace_to_onnx(exportable, tuple(args), path,
                         exportable.input_names, exportable.output_names,
                         dynamic_axes, metadata, opset)


def trace_to_onnx(module: nn.Module, args: tuple, path: str,
                  input_names: List[str], output_names: List[str],
                  dynamic_axes: Optional[dict], metadata: Dict[str, Any],
                  opset: int = DEFAULT_OPSET) -> str:
    """Trace ``module(*args)`` into ``path`` (TorchScript exporter, constant
    folding), store ``metadata`` as JSON under :data:`METADATA_KEY` and
    check the file.

    Returns:
        str: ``path``.
    """
    import onnx
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        # shape checks become constants (TracerWarning) and the exporter
        # announces its deprecation: neither concerns these exports
        warnings.simplefilter('ignore')
        torch.onnx.export(
            module,
            args,
            path,
            input_names=input_names,
            output_names=output_names,
            dynamic_axes=dynamic_axes,
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False)
    model = onnx.load(path)
    entry = model.metadata_props.add()
    entry.key = METADATA_KEY
    entry.value = json.dumps(metadata)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def export_text_encoder(encoder: nn.Module,
                        out_dir: str,
                        opset: int = DEFAULT_OPSET) -> str:
    """Export a :class:`MiniLMTextEncoder` and its tokenizer.

    Writes ``out_dir/text_encoder.onnx`` (inputs ``input_ids`` and
    ``attention_mask`` (N, L), both axes dynamic; output ``text_feats``
    (N, D), L2-normalised) and the tokenizer files, which
    :class:`~mmioc_rtvp.deploy.ORTTextEncoder` reads.

    Args:
        encoder (nn.Module): The text encoder (``model.backbone
            .text_model``).
        out_dir (str): Output directory.
        opset (int): ONNX opset. Defaults to 17.

    Returns:
        str: The ``.onnx`` path.
    """
    module = ExportableMiniLM(encoder).eval()
    tokens = encoder.tokenizer(
        ['a scratch on steel', 'hole'], padding=True, truncation=True,
        max_length=encoder.max_length, return_tensors='pt')
    texts_axes = {0: VOCAB_AXIS, 1: 'num_tokens'}
    path = trace_to_onnx(
        module, (tokens['input_ids'], tokens['attention_mask']),
        osp.join(out_dir, 'text_encoder.onnx'),
        ['input_ids', 'attention_mask'], ['text_feats'],
        dict(input_ids=texts_axes, attention_mask=texts_axes,
             text_feats={0: VOCAB_AXIS}),
        dict(kind='text_encoder', model_type=type(encoder).__name__,
             embed_dims=int(encoder.embed_dim),
             max_length=int(encoder.max_length)), opset)
    encoder.tokenizer.save_pretrained(out_dir)
    return path


def read_metadata(path: str) -> Dict[str, Any]:
    """The :data:`METADATA_KEY` metadata of an exported file.

    Args:
        path (str): ``.onnx`` file written by :func:`export_onnx`.

    Returns:
        dict: See :func:`build_metadata`.
    """
    import onnx
    model = onnx.load(path, load_external_data=False)
    for entry in model.metadata_props:
        if entry.key == METADATA_KEY:
            return json.loads(entry.value)
    raise ValueError(f'{path}: no {METADATA_KEY!r} metadata; it was not '
                     'written by tools/deploy/export_onnx.py')
