# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The model behind the demo: :class:`mmioc_rtvp.apis.MMIOCInferencer`."""
import threading
from typing import Optional, Sequence, Tuple

import numpy as np

from mmioc_rtvp.prompts import BOTH, PromptEmbeddings
from .predictor import ClassSource, Detection, Prediction


class InferencerPredictor:
    """:class:`~.predictor.Predictor` over an ``MMIOCInferencer``.

    The inferencer sets the model's vocabulary for each call, so calls are
    serialised by a lock: concurrent requests queue and each is answered
    with its own vocabulary. The inferencer also owns the OK/NG threshold
    (a number, a threshold file, or the file calibrated next to the
    checkpoint). With exemplars, the vocabulary is the inferencer's mixed
    one (text classes, then exemplar-only classes; a class in both fused);
    boxes of reference images are encoded by the model's exemplar encoder
    under the same lock.

    Args:
        inferencer: An ``MMIOCInferencer``.
    """

    def __init__(self, inferencer) -> None:
        self.inferencer = inferencer
        self._lock = threading.Lock()
        self._pipeline = None
        # (exemplar set, text classes) the model's vocabulary was made of
        self._mixed_key: Optional[Tuple[PromptEmbeddings, tuple]] = None

    @classmethod
    def from_files(cls,
                   config: str,
                   checkpoint: str,
                   device: str = 'cpu',
                   threshold: Optional[float] = None,
                   threshold_file: Optional[str] = None
                   ) -> 'InferencerPredictor':
        """Load a model from its config and checkpoint files.

        Args:
            config (str): Config file.
            checkpoint (str): Checkpoint file.
            device (str): Defaults to ``'cpu'``.
            threshold (float, optional): OK/NG threshold.
            threshold_file (str, optional): OK/NG threshold file; without
                either, the inferencer reads
                ``<checkpoint without .pth>.okng.json`` if it exists.
        """
        from mmioc_rtvp.apis import MMIOCInferencer
        return cls(
            MMIOCInferencer(
                model=config, weights=checkpoint, device=device,
                ok_ng_threshold=threshold, threshold_file=threshold_file,
                palette='none', show_progress=False))

    @property
    def threshold(self) -> Optional[float]:
        """The OK/NG threshold in use (None: no verdict)."""
        ok_ng = self.inferencer.ok_ng
        return None if ok_ng is None else ok_ng.threshold

    @property
    def fingerprint(self) -> str:
        """The model's fingerprint (exemplar files must carry it)."""
        return self.inferencer.model_fingerprint()

    @property
    def embed_dims(self) -> Optional[int]:
        """D of the class embeddings (None for a closed-set model)."""
        from mmioc_rtvp.apis.model_fingerprint import text_embed_dim
        if not self.inferencer.open_vocabulary:
            return None
        return text_embed_dim(self.inferencer.model)

    @property
    def has_exemplar_encoder(self) -> bool:
        """Whether the model can encode exemplar boxes."""
        return getattr(self.inferencer.model, 'exemplar_encoder',
                       None) is not None

    def encode_exemplar(self, image: np.ndarray,
                        box: Tuple[float, float, float, float]
                        ) -> np.ndarray:
        """(D,) embedding of a checked box (original pixels) on a BGR uint8
        (H, W, 3) reference image, through the model's test pipeline."""
        from mmioc_rtvp.apis.exemplar_prompts import encode_image_boxes
        from mmioc_rtvp.apis.support_images import support_pipeline
        with self._lock:
            if self._pipeline is None:
                self._pipeline = support_pipeline(self.inferencer.model.cfg)
            rows = encode_image_boxes(self.inferencer.model, image,
                                      np.asarray([box], np.float32),
                                      self._pipeline)
        return rows[0]

    def _use_exemplars(self, classes: Sequence[str],
                       exemplars: Optional[PromptEmbeddings]) -> None:
        """Make the text ``classes`` plus ``exemplars`` the vocabulary
        (the lock held); without exemplars, the text classes only."""
        texts = tuple(classes)
        if exemplars is None:
            self.inferencer.clear_exemplars()
            self._mixed_key = None
            self.inferencer.set_vocabulary(list(texts))
            return
        if self._mixed_key is not None and (
                self._mixed_key[0] is exemplars and self._mixed_key[1] == texts):
            return
        # the text classes of a previous request must not stay
        self.inferencer.clear_exemplars()
        self.inferencer.set_exemplars(exemplars, BOTH,
                                      texts=list(texts) or None)
        self._mixed_key = (exemplars, texts)

    def _class_sources(self) -> Tuple[ClassSource, ...]:
        """What each class of the current vocabulary was made of."""
        mixed = self.inferencer.mixed
        if mixed is None:
            vocabulary = self.inferencer.vocabulary
            return tuple(
                ClassSource(name, 'text', tuple(prompts)) for name, prompts
                in zip(vocabulary.names, vocabulary.prompts))
        out = []
        for report in mixed.reports:
            agg = report.exemplars
            out.append(ClassSource(
                report.name, report.use, tuple(report.prompts),
                0 if agg is None else len(agg.inliers),
                0 if agg is None else len(agg.outliers)))
        return tuple(out)

    def __call__(self, image: np.ndarray, classes: Sequence[str],
                 exemplars: Optional[PromptEmbeddings] = None
                 ) -> Prediction:
        """Detections of the text ``classes`` and the classes of
        ``exemplars`` in a BGR uint8 (H, W, 3) image."""
        with self._lock:
            self._use_exemplars(classes, exemplars)
            sources = self._class_sources()
            out = self.inferencer(
                image, no_save_vis=True, no_save_pred=True)
        pred = out['predictions'][0]
        order = np.argsort(-np.asarray(pred['scores']), kind='stable')
        detections = [
            Detection(pred['label_names'][i], float(pred['scores'][i]),
                      tuple(float(v) for v in pred['bboxes'][i]))
            for i in order.tolist()
        ]
        return Prediction(detections, pred['defect_score'], pred['verdict'],
                          sources)
