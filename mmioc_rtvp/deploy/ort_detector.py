# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""ONNX Runtime backend for the files of tools/deploy/export_onnx.py."""
import json
import os.path as osp
import warnings
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from mmioc_rtvp.prompts import PromptEmbeddings, load_prompt_embeddings
from .postprocess import postprocess_detections

#: Largest accepted deviation of an embedding's L2 norm from 1 before the
#: runner normalises it (with a warning); float32 rounding stays ~1e-6.
UNIT_NORM_TOLERANCE = 1e-3

#: Same key as :data:`mmioc_rtvp.deploy.onnx_export.METADATA_KEY` (kept
#: here so that the runner imports neither torch nor onnx).
METADATA_KEY = 'mmioc_rtvp'


class ORTDetector:
    """Run an exported detector with ONNX Runtime and post-process it.

    Needs numpy and onnxruntime only. The graph computes boxes and scores
    of every prior (:class:`~mmioc_rtvp.deploy.ExportableDetector`);
    score threshold, NMS and the mapping to the original image run here
    (:func:`~mmioc_rtvp.deploy.postprocess.postprocess_detections`) with the
    model's ``test_cfg`` stored in the file (``test_cfg`` overrides it).

    Example (run-time vocabulary; the embeddings come from the project's
    text encoder, e.g. ``model.backbone.forward_text`` or
    ``tools/misc/precompute_text_embeddings.py``)::

        det = ORTDetector('rtvpnet.onnx')
        out = det.predict(image, text_feats=embeddings)   # (1, K, D)

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

    @property
    def runtime_vocabulary(self) -> bool:
        """Whether the file takes ``text_feats`` as an input."""
        return 'text_feats' in self.input_names

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

    def _check_inputs(self, image: np.ndarray,
                      text_feats: Optional[np.ndarray]) -> Dict[str, Any]:
        """The feed dict, after checking shapes."""
        expected = (1, 3) + self.image_shape
        if tuple(image.shape) != expected:
            raise ValueError(f'{self.path}: the image must be {expected} '
                             f'(fixed at export), got {tuple(image.shape)}')
        feed = dict(image=np.ascontiguousarray(image, dtype=np.float32))
        if not self.runtime_vocabulary:
            if text_feats is not None:
                raise ValueError(
                    f'{self.path} has a baked vocabulary (or fixed classes) '
                    'and takes no text_feats; export with '
                    '--runtime-vocabulary to change it at run time')
            return feed
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
        feed['text_feats'] = self._checked_embeddings(
            np.asarray(text_feats, dtype=np.float32))
        return feed

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
                image: np.ndarray,
                text_feats: Optional[np.ndarray] = None
                ) -> Tuple[np.ndarray, np.ndarray]:
        """Boxes and scores of every prior.

        Args:
            image (np.ndarray): (1, 3, H, W) float32, the data preprocessor's
                output (see ``metadata['preprocess']``).
            text_feats (np.ndarray, optional): (1, K, D) or (K, D) float32
                embeddings (run-time vocabulary files only).

        Returns:
            tuple[np.ndarray, np.ndarray]: boxes (1, N, 4) xyxy in input
            pixels and scores (1, N, K).
        """
        boxes, scores = self.session.run(
            ['boxes', 'scores'], self._check_inputs(image, text_feats))
        return boxes, scores

    def predict(self,
                image: np.ndarray,
                text_feats: Optional[np.ndarray] = None,
                img_meta: Optional[Mapping] = None) -> Dict[str, np.ndarray]:
        """Detections of one preprocessed image.

        Args:
            image (np.ndarray): See :meth:`forward`.
            text_feats (np.ndarray, optional): See :meth:`forward`.
            img_meta (Mapping, optional): ``ori_shape``, ``scale_factor``
                and ``pad_param`` of the test pipeline, to return boxes in
                original-image pixels; None keeps input pixels.

        Returns:
            dict[str, np.ndarray]: ``bboxes`` (M, 4), ``scores`` (M,) and
            ``labels`` (M,) indexing the vocabulary (or classes).
        """
        boxes, scores = self.forward(image, text_feats)
        return postprocess_detections(boxes[0], scores[0], self.test_cfg,
                                      img_meta)
