# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""ONNX Runtime runner of an exported text encoder (no torch needed)."""
import json
import os.path as osp
from typing import Optional, Sequence

import numpy as np

from .ort_detector import METADATA_KEY


class ORTTextEncoder:
    """Prompts -> (K, D) unit embeddings with the files of
    :func:`~mmioc_rtvp.deploy.onnx_export.export_text_encoder`
    (``tools/deploy/export_onnx.py --text-encoder-out DIR``).

    With :class:`ORTDetector` on a run-time-vocabulary file, a new
    vocabulary needs neither PyTorch nor a re-export::

        enc = ORTTextEncoder('work_dirs/deploy/text_encoder')
        det.predict(image, enc(['scratch on steel', 'hole in wood'])[None])

    Tokenisation uses the saved tokenizer (``transformers``' fast
    tokenizer, as the PyTorch encoder does: padding to the longest prompt,
    truncation to the encoder's ``max_length``).

    Args:
        model_dir (str): Directory with ``text_encoder.onnx`` and the
            tokenizer files.
        num_threads (int, optional): ONNX Runtime intra-op threads.
    """

    def __init__(self, model_dir: str,
                 num_threads: Optional[int] = None) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer
        path = osp.join(model_dir, 'text_encoder.onnx')
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{path} does not exist (export it with '
                'tools/deploy/export_onnx.py --text-encoder-out DIR)')
        options = ort.SessionOptions()
        if num_threads is not None:
            options.intra_op_num_threads = int(num_threads)
        self.session = ort.InferenceSession(
            path, sess_options=options, providers=['CPUExecutionProvider'])
        meta = self.session.get_modelmeta().custom_metadata_map
        self.metadata = json.loads(meta.get(METADATA_KEY, '{}'))
        if self.metadata.get('kind') != 'text_encoder':
            raise ValueError(f'{path} is not a text encoder of '
                             'tools/deploy/export_onnx.py')
        self.tokenizer = AutoTokenizer.from_pretrained(
            model_dir, local_files_only=True)
        self.max_length = int(self.metadata['max_length'])

    @property
    def embed_dim(self) -> int:
        """D of the embeddings."""
        return int(self.metadata['embed_dims'])

    def __call__(self, prompts: Sequence[str]) -> np.ndarray:
        """Unit embeddings of the prompts.

        Args:
            prompts (Sequence[str]): K >= 1 non-empty prompts.

        Returns:
            np.ndarray: (K, D) float32.
        """
        prompts = list(prompts)
        if not prompts:
            raise ValueError('empty vocabulary: give at least one prompt')
        empty = [i for i, p in enumerate(prompts) if not p.strip()]
        if empty:
            raise ValueError(f'empty prompts at positions {empty} (an empty '
                             'prompt would be padding, never detected)')
        tokens = self.tokenizer(
            prompts, padding=True, truncation=True,
            max_length=self.max_length, return_tensors='np')
        feed = {
            name: tokens[name].astype(np.int64)
            for name in ('input_ids', 'attention_mask')
        }
        return self.session.run(['text_feats'], feed)[0]
