# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The model behind the demo: :class:`mmioc_rtvp.apis.MMIOCInferencer`."""
import threading
from typing import Optional, Sequence

import numpy as np

from .predictor import Detection, Prediction


class InferencerPredictor:
    """:class:`~.predictor.Predictor` over an ``MMIOCInferencer``.

    The inferencer sets the model's vocabulary for each call, so calls are
    serialised by a lock: concurrent requests queue and each is answered
    with its own vocabulary. The inferencer also owns the OK/NG threshold
    (a number, a threshold file, or the file calibrated next to the
    checkpoint).

    Args:
        inferencer: An ``MMIOCInferencer``.
    """

    def __init__(self, inferencer) -> None:
        self.inferencer = inferencer
        self._lock = threading.Lock()

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

    def __call__(self, image: np.ndarray,
                 classes: Sequence[str]) -> Prediction:
        """Detections of ``classes`` in a BGR uint8 (H, W, 3) image."""
        with self._lock:
            out = self.inferencer(
                image, texts=list(classes), no_save_vis=True,
                no_save_pred=True)
        pred = out['predictions'][0]
        order = np.argsort(-np.asarray(pred['scores']), kind='stable')
        detections = [
            Detection(pred['label_names'][i], float(pred['scores'][i]),
                      tuple(float(v) for v in pred['bboxes'][i]))
            for i in order.tolist()
        ]
        return Prediction(detections, pred['defect_score'], pred['verdict'])
