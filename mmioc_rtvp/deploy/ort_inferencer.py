# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The project's inferencer with the network run by ONNX Runtime."""
from typing import List, Optional, Union

import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.structures import InstanceData

from mmioc_rtvp.apis import MMIOCInferencer, Vocabulary
from mmioc_rtvp.apis.vocabulary import VocabularyLike
from .ort_detector import ORTDetector


class ORTInferencer(MMIOCInferencer):
    """:class:`~mmioc_rtvp.apis.MMIOCInferencer` whose detector is an ONNX
    file of ``tools/deploy/export_onnx.py``.

    Everything but the network is the parent's: inputs, test pipeline,
    data preprocessor (the graph's input is its output), vocabulary
    parsing and prompt ensembles, the text encoder (outside the graph),
    OK/NG verdicts, drawing and the COCO-style results. :meth:`forward`
    runs :class:`ORTDetector` (graph + numpy score filter / NMS with the
    model's ``test_cfg``) on the batch: one session call for a file with a
    dynamic batch axis (``--dynamic-batch``), one per image otherwise.

    - run-time-vocabulary files take the current vocabulary's (1, K, D)
      embeddings, computed by the config's text encoder: ``texts`` may
      change from call to call without exporting again;
    - baked files only accept their own vocabulary (stored in the file);
    - closed-set files have the classes of their checkpoint;
    - exemplar / tuned embeddings files (``exemplars``) are checked against
      the fingerprint the exporter wrote into the file and enter through
      ``text_feats`` (run-time-vocabulary files).

    The config (and ``weights``, optional) build the PyTorch model for
    its preprocessor, text encoder and class names; its network weights
    are not used.

    Args:
        model (str | Config | dict): The config the file was exported from.
        onnx_file (str): The ``.onnx`` file.
        weights (str, optional): Its checkpoint (class names, baked
            vocabularies); None builds the config with its initialisation.
        num_threads (int, optional): ONNX Runtime intra-op threads.
        **kwargs: Other :class:`MMIOCInferencer` arguments (``texts``,
            ``ok_ng_threshold``, ``threshold_file``, ``palette``,
            ``show_progress``, ``scope``); the device is the CPU.
    """

    def __init__(self,
                 model: Union[str, Config, dict],
                 onnx_file: str,
                 weights: Optional[str] = None,
                 num_threads: Optional[int] = None,
                 **kwargs) -> None:
        self.ort = ORTDetector(onnx_file, num_threads=num_threads)
        texts = kwargs.pop('texts', None)
        super().__init__(model=model, weights=weights, device='cpu',
                         **kwargs)
        kind = self.ort.metadata['kind']
        if (kind == 'closed') == self.open_vocabulary:
            raise ValueError(
                f'{onnx_file} is a {kind} export but the config builds '
                f'{type(self.model).__name__}: give the config it was '
                'exported from')
        if kind == 'baked':
            baked = Vocabulary.parse(self.ort.metadata['vocabulary'])
            if texts is not None and Vocabulary.parse(texts).names != \
                    baked.names:
                raise ValueError(self._baked_message(texts))
            self.vocabulary = baked
            self._use_vocabulary(baked)
        elif texts is not None:
            self.set_vocabulary(texts)

    def _baked_message(self, texts: VocabularyLike) -> str:
        return (f'{self.ort.path} has the baked vocabulary '
                f'{self.ort.metadata["vocabulary"]}; it cannot detect '
                f'{Vocabulary.parse(texts).names} (export with '
                '--runtime-vocabulary to change it at run time)')

    def model_fingerprint(self) -> str:
        """The fingerprint of the exported weights (ONNX metadata)."""
        return self.ort.fingerprint

    def set_exemplars(self, exemplars, *args, **kwargs) -> Vocabulary:
        """The parent's, for run-time-vocabulary files only (exemplar
        embeddings enter through the ``text_feats`` input)."""
        kind = self.ort.metadata['kind']
        if kind != 'runtime_vocabulary':
            raise ValueError(f'{self.ort.path} is a {kind} export: exemplars '
                             'need an export with --runtime-vocabulary')
        return super().set_exemplars(exemplars, *args, **kwargs)

    def set_vocabulary(self, texts: VocabularyLike) -> Vocabulary:
        """The parent's, refused for a baked file unless it is the file's
        vocabulary."""
        if self.ort.metadata['kind'] == 'baked':
            if Vocabulary.parse(texts).names != self.vocabulary.names:
                raise ValueError(self._baked_message(texts))
            return self.vocabulary
        return super().set_vocabulary(texts)

    def forward(self, data: dict, **kwargs) -> List[DetDataSample]:
        """Detections of a collated batch.

        Args:
            data (dict): ``inputs`` (list of (3, H, W) images) and
                ``data_samples`` from the test pipeline.

        Returns:
            list[DetDataSample]: The samples with ``pred_instances``.
        """
        batch = self.model.data_preprocessor(data, False)
        text_feats = None
        if self.ort.runtime_vocabulary:
            text_feats = self.text_feats.detach().cpu().numpy()
        samples = batch['data_samples']
        images = [image.cpu().numpy() for image in batch['inputs']]
        outs = self.ort.predict_batch(images, text_feats,
                                      [s.metainfo for s in samples])
        for out, sample in zip(outs, samples):
            sample.pred_instances = InstanceData(
                bboxes=torch.from_numpy(out['bboxes']),
                scores=torch.from_numpy(out['scores']),
                labels=torch.from_numpy(out['labels']))
        return samples
