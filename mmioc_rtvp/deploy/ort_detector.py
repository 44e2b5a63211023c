# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""ONNX Runtime backend for the files of tools/deploy/export_onnx.py."""
import json
import logging
import os.path as osp
import warnings
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from mmioc_rtvp.prompts import PromptEmbeddings, load_prompt_embeddings
from .postprocess import postprocess_detections

#: Largest accepted deviation of an embedding's L2 norm from 1 before the
#: runner normalises it (with a warning); float32 rounding stays ~1e-6.
UNIT_NORM_TOLERANCE = 1e-3

#: Same key as :data:`mmioc_rtvp.deploy.onnx_export.METADATA_KEY` (kept
#: here so that the runner imports neither torch nor onnx).
METADATA_KEY = 'mmioc_rtvp'

_logger = logging.getLogger(__name__)
#: A batch of images: (B, 3, H, W), or a sequence of (3, H, W) or
#: (1, 3, H, W) arrays.
Images = Union[np.ndarray, Sequence[np.ndarray]]


class ORTDetector:
    """Run an exported detector with ONNX Runtime and post-process it.

    Needs numpy and onnxruntime only. The graph computes boxes and scores
    of every prior (:class:`~mmioc_rtvp.deploy.ExportableDetector`);
    score threshold, NMS and the mapping to the original image run here
    (:func:`~mmioc_rtvp.deploy.postprocess.postprocess_detections`) with the
    model's ``test_cfg`` stored in the file (``test_cfg`` overrides it).

    A batch (:meth:`predict_batch`) runs as one session call when the
    file's batch axis is dynamic (``export_onnx(dynamic_batch=True)``,
    ``--dynamic-batch``), else one call per image.

    Example (run-time vocabulary; the embeddings come from the project's
    text encoder, e.g. ``model.backbone.forward_text`` or
    ``tools/misc/precompute_text_embeddings.py``)::

        det = ORTDetector('rtvpnet.onnx')
        out = det.predict(image, text_feats=embeddings)   # (1, K, D)
        outs = det.predict_batch([im0, im1, im2], embeddings, metas)

    Args:
        path (str): The ``.onnx`` file.
        num_threads (int, optional): ONNX Runtime intra-op threads (None:
            its default).
        providers (Sequence[str]): Execution providers.
            Defaults to ``('CPUExecutionProvider', )``.
        test_cfg (Mapping, optional): Replaces the stored ``test_cfg``.
    """

    def __init__(self,
                 path: str,
                 num_threads: Optional[int] = None,
                 providers: Sequence[str] = ('CPUExecutionProvider', ),
                 test_cfg: Optional[Mapping] = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as err:
            raise ImportError(
                'the onnxruntime backend needs `pip install onnxruntime` '
                '(requirements/optional.txt)') from err
        if not osp.isfile(path):
            raise FileNotFoundError(f'ONNX file {path} does not exist')
        options = ort.SessionOptions()
        if num_threads is not None:
            options.intra_op_num_threads = int(num_threads)
            options.inter_op_num_threads = 1
        self.path = path
        self.session = ort.InferenceSession(
            path, sess_options=options, providers=list(providers))
        meta = self.session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in meta:
            raise ValueError(f'{path}: no {METADATA_KEY!r} metadata; it was '
                             'not written by tools/deploy/export_onnx.py')
        self.metadata: Dict[str, Any] = json.loads(meta[METADATA_KEY])
        self.test_cfg = dict(test_cfg if test_cfg is not None else
                             self.metadata['test_cfg'])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self._fixed_batch_logged = False

    @property
    def runtime_vocabulary(self) -> bool:
        """Whether the file takes ``text_feats`` as an input."""
        return 'text_feats' in self.input_names

    @property
    def dynamic_batch(self) -> bool:
        """Whether the file takes any batch in one call (its ``image``
        input has a named or unknown first axis rather than 1)."""
        image = next(i for i in self.session.get_inputs()
                     if i.name == 'image')
        return not isinstance(image.shape[0], int)

    @property
    def fingerprint(self) -> str:
        """The exported weights' fingerprint (exemplar files must match)."""
        fingerprint = self.metadata.get('fingerprint')
        if not fingerprint:
            raise ValueError(f'{self.path}: no model fingerprint in its '
                             'metadata; export it again with tools/deploy/'
                             'export_onnx.py to use exemplar files')
        return fingerprint

    def load_prompt_embeddings(self, path: str) -> PromptEmbeddings:
        """An exemplar / tuned embeddings file of the exported weights.

        Build the (1, K, D) ``text_feats`` from it with
        :func:`mmioc_rtvp.prompts.build_mixed_vocabulary` (text classes
        through :class:`ORTTextEncoder` or precomputed embeddings)::

            prompts = det.load_prompt_embeddings('exemplars.npz')
            vocab = build_mixed_vocabulary(
                class_specs([['scratch']], prompts), prompts, text=enc)
            det.predict(image, vocab.text_feats)

        Args:
            path (str): The ``.npz`` file.

        Returns:
            PromptEmbeddings: Its entries.

        Raises:
            PromptEmbeddingsError: A file of other weights or width, or a
                malformed file.
        """
        if not self.runtime_vocabulary:
            raise ValueError(f'{self.path} takes no text_feats: export it '
                             'with --runtime-vocabulary to use exemplars')
        return load_prompt_embeddings(path, self.fingerprint,
                                      int(self.metadata['embed_dims']))

    @property
    def image_shape(self) -> Tuple[int, int]:
        """(H, W) of the fixed input size."""
        h, w = self.metadata['image_shape']
        return int(h), int(w)

    @property
    def class_names(self) -> Optional[list]:
        """The baked vocabulary or the closed-set class names (None for a
        run-time vocabulary: the caller's texts name the labels)."""
        vocabulary = self.metadata.get('vocabulary')
        if vocabulary:  # entries: a prompt or a prompt ensemble
            return [v if isinstance(v, str) else v[0] for v in vocabulary]
        return self.metadata.get('class_names')

    def _checked_images(self, images: Images) -> np.ndarray:
        """``images`` as one (B, 3, H, W) float32 array, after checking
        shapes."""
        expected = (3, ) + self.image_shape
        if not isinstance(images, np.ndarray):
            arrays = [np.asarray(i) for i in images]
            for i, array in enumerate(arrays):
                if array.shape not in (expected, (1, ) + expected):
                    raise ValueError(
                        f'{self.path}: image {i} must be {expected} (the '
                        f'size is fixed at export), got {array.shape}')
            images = np.stack([a.reshape(expected) for a in arrays]) \
                if arrays else np.zeros((0, ) + expected)
        if images.ndim != 4 or tuple(images.shape[1:]) != expected or \
                not len(images):
            raise ValueError(f'{self.path}: images must be (B, {expected[0]}, '
                             f'{expected[1]}, {expected[2]}) with B >= 1 (the '
                             'size is fixed at export), got '
                             f'{tuple(images.shape)}')
        return np.ascontiguousarray(images, dtype=np.float32)

    def _checked_text_feats(self, text_feats: Optional[np.ndarray]
                            ) -> Optional[np.ndarray]:
        """``text_feats`` as (1, K, D) float32 unit rows (None for a file
        without the input), after checking shapes and values."""
        if not self.runtime_vocabulary:
            if text_feats is not None:
                raise ValueError(
                    f'{self.path} has a baked vocabulary (or fixed classes) '
                    'and takes no text_feats; export with '
                    '--runtime-vocabulary to change it at run time')
            return None
        d = self.metadata['embed_dims']
        if text_feats is None:
            raise ValueError(f'{self.path} takes the vocabulary at run time: '
                             f'give text_feats (1, K, {d})')
        if text_feats.ndim == 2:
            text_feats = text_feats[None]
        if text_feats.ndim != 3 or text_feats.shape[0] != 1 or \
                text_feats.shape[2] != d:
            raise ValueError(f'{self.path}: text_feats must be (1, K, {d}), '
                             f'got {tuple(text_feats.shape)}')
        if text_feats.shape[1] == 0:
            raise ValueError(f'{self.path}: empty vocabulary (K=0)')
        return self._checked_embeddings(
            np.asarray(text_feats, dtype=np.float32))

    def _checked_embeddings(self, text_feats: np.ndarray) -> np.ndarray:
        """``text_feats`` (1, K, D) with unit rows, or a refusal.

        The model was trained on L2-normalised text embeddings: a NaN/Inf
        or all-zero row (a corrupt or wrong embeddings file) is refused, a
        row whose norm is not 1 (an encoder output used without its
        normalisation) is normalised with a warning naming the rows.
        """
        feats = text_feats[0]  # (K, D)
        bad = np.flatnonzero(~np.isfinite(feats).all(axis=1))
        if bad.size:
            raise ValueError(
                f'{self.path}: text_feats row(s) {bad.tolist()} of K='
                f'{len(feats)} hold NaN or Inf values: the embeddings are '
                'corrupt; compute them again with the text encoder')
        norms = np.linalg.norm(feats.astype(np.float64), axis=1)  # (K,)
        zero = np.flatnonzero(norms == 0)
        if zero.size:
            raise ValueError(
                f'{self.path}: text_feats row(s) {zero.tolist()} of K='
                f'{len(feats)} are zero vectors (no class can match them)')
        off = np.flatnonzero(np.abs(norms - 1) > UNIT_NORM_TOLERANCE)
        if off.size:
            warnings.warn(
                f'{self.path}: text_feats row(s) {off.tolist()} of K='
                f'{len(feats)} are not unit vectors (norms '
                f'{np.round(norms[off][:5], 4).tolist()}); normalised here',
                stacklevel=4)
            feats = feats / norms[:, None]
        return np.ascontiguousarray(feats[None], dtype=np.float32)

    def forward(self,
                image: Images,
                text_feats: Optional[np.ndarray] = None
                ) -> Tuple[np.ndarray, np.ndarray]:
        """Boxes and scores of every prior.

        Args:
            image (np.ndarray | Sequence[np.ndarray]): (B, 3, H, W) float32,
                the data preprocessor's output (see
                ``metadata['preprocess']``), or a sequence of (3, H, W) /
                (1, 3, H, W) arrays. B > 1 runs as one session call when
                :attr:`dynamic_batch`, else as B calls of one image.
            text_feats (np.ndarray, optional): (1, K, D) or (K, D) float32
                embeddings, one vocabulary for the whole batch (run-time
                vocabulary files only).

        Returns:
            tuple[np.ndarray, np.ndarray]: boxes (B, N, 4) xyxy in input
            pixels and scores (B, N, K).
        """
        images = self._checked_images(image)
        feats = self._checked_text_feats(text_feats)
        if len(images) == 1 or self.dynamic_batch:
            return self._run(images, feats)
        if not self._fixed_batch_logged:
            self._fixed_batch_logged = True
            _logger.warning(
                '%s has a fixed batch of 1: a batch of %d images runs as '
                'one session call per image (export with --dynamic-batch '
                'to run it in one call)', self.path, len(images))
        outs = [self._run(images[i:i + 1], feats) for i in range(len(images))]
        return (np.concatenate([boxes for boxes, _ in outs]),
                np.concatenate([scores for _, scores in outs]))

    def _run(self, images: np.ndarray, text_feats: Optional[np.ndarray]
             ) -> Tuple[np.ndarray, np.ndarray]:
        """One session call on checked inputs; the (1, K, D) vocabulary is
        repeated for each image of the batch."""
        feed = dict(image=images)
        if text_feats is not None:
            feed['text_feats'] = np.ascontiguousarray(
                np.broadcast_to(text_feats,
                                (len(images), ) + text_feats.shape[1:]))
        boxes, scores = self.session.run(['boxes', 'scores'], feed)
        return boxes, scores

    def predict(self,
                image: np.ndarray,
                text_feats: Optional[np.ndarray] = None,
                img_meta: Optional[Mapping] = None) -> Dict[str, np.ndarray]:
        """Detections of one preprocessed image.

        Args:
            image (np.ndarray): (1, 3, H, W) or (3, H, W); see
                :meth:`forward`.
            text_feats (np.ndarray, optional): See :meth:`forward`.
            img_meta (Mapping, optional): ``ori_shape``, ``scale_factor``
                and ``pad_param`` of the test pipeline, to return boxes in
                original-image pixels; None keeps input pixels.

        Returns:
            dict[str, np.ndarray]: ``bboxes`` (M, 4), ``scores`` (M,) and
            ``labels`` (M,) indexing the vocabulary (or classes).
        """
        if isinstance(image, np.ndarray) and image.ndim == 4 and \
                len(image) != 1:
            raise ValueError(f'{self.path}: predict takes one image, got a '
                             f'batch of {len(image)}; use predict_batch')
        return self.predict_batch([image], text_feats, [img_meta])[0]

    def predict_batch(self,
                      images: Images,
                      text_feats: Optional[np.ndarray] = None,
                      img_metas: Optional[Sequence[Optional[Mapping]]] = None
                      ) -> List[Dict[str, np.ndarray]]:
        """Detections of a batch of preprocessed images, the same as
        :meth:`predict` of each image.

        Args:
            images (np.ndarray | Sequence[np.ndarray]): See :meth:`forward`.
            text_feats (np.ndarray, optional): One vocabulary for all; see
                :meth:`forward`.
            img_metas (Sequence[Mapping], optional): One ``img_meta`` per
                image (see :meth:`predict`); None keeps input pixels.

        Returns:
            list[dict[str, np.ndarray]]: One :meth:`predict` result per
            image, in order.
        """
        boxes, scores = self.forward(images, text_feats)
        if img_metas is None:
            img_metas = [None] * len(boxes)
        if len(img_metas) != len(boxes):
            raise ValueError(f'{self.path}: {len(img_metas)} img_metas for '
                             f'{len(boxes)} images')
        return [
            postprocess_detections(b, s, self.test_cfg, meta)
            for b, s, meta in zip(boxes, scores, img_metas)
        ]
