# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The inferencer of mmioc_rtvp: free-text defect detection with OK/NG."""
import json
import math
import os
import os.path as osp
from typing import (Dict, List, Mapping, Optional, Sequence, Set, Tuple,
                    Union)

import cv2
import numpy as np
import torch
from mmdet.apis import DetInferencer
from mmengine.config import Config, ConfigDict
from mmengine.dataset import Compose, pseudo_collate
from mmengine.logging import print_log
from mmengine.registry import init_default_scope
from torch import Tensor

from mmioc_rtvp.prompts import (BOTH, MixedVocabulary, PromptEmbeddings,
                                build_mixed_vocabulary,
                                check_prompt_embeddings_model, class_specs,
                                load_prompt_embeddings)
# SKIPPED_TRANSFORMS and find_pipeline stay importable from here
from .image_pipeline import (SKIPPED_TRANSFORMS, build_array_pipeline,  # noqa
                             find_pipeline)
from .inference_inputs import (MAX_IMAGE_PIXELS, InferenceInput, InputsType,
                               expand_inputs, iter_loaded, num_images)
from .model_fingerprint import model_fingerprint, text_embed_dim
from .model_loading import BAKED_KEY, build_detector
from .ok_ng import (OKNGThreshold, default_threshold_file,
                    image_defect_score)
from .vocabulary import Vocabulary, VocabularyLike

#: Meta keys of the packed samples that inference does not have.
DROPPED_META_KEYS = ('img_id', 'texts')
#: Name of the COCO-style results file written to ``out_dir``.
RESULTS_FILE = 'predictions.json'


class _SizedBatches:
    """An iterable of batches that knows its length (for the progress bar).
    """

    def __init__(self, batches, length: int) -> None:
        self._batches = batches
        self._length = length

    def __len__(self) -> int:
        return self._length

    def __iter__(self):
        return iter(self._batches)


class MMIOCInferencer(DetInferencer):
    """Detect free-text defect classes in images, folders, globs and videos.

    An mmdet :class:`~mmdet.apis.DetInferencer` for the detectors of this
    package (RTVPNet, YOLO-World, and the closed-set YOLOv8):

    .. code-block:: python

        from mmioc_rtvp.apis import MMIOCInferencer
        inferencer = MMIOCInferencer(
            model='configs/rtvpnet_s_mini.py', weights='epoch_40.pth',
            device='cpu')
        out = inferencer('data/parts/', texts=['scratch on metal',
                                               'hole in wood|drilled hole'],
                         out_dir='work_dirs/infer', no_save_pred=False)
        out['predictions'][0]    # labels, scores, bboxes, label_names,
                                 # defect_score, verdict ('OK'/'NG'/None)
        out['skipped']           # [(input, reason)] of unreadable inputs

    **Inputs** (:func:`~.inference_inputs.expand_inputs`): image paths, BGR
    arrays, folders (recursive), glob patterns and videos (one frame in
    ``frame_stride``); unreadable images or videos are skipped and listed
    in ``out['skipped']`` and at the end of the run.

    **Vocabulary** (open-vocabulary models): ``texts`` in the constructor or
    in each call, any form :meth:`Vocabulary.parse` accepts: a list with
    one entry per class, where an entry is a prompt, ``"a|b"`` or a list
    of prompts (a prompt ensemble: the unit embeddings of a class's
    prompts are averaged and re-normalised), a class-text file (YOLO-World
    ``.json`` list of lists, or ``.txt`` one class per line), or
    ``"a,b"``. Labels index the vocabulary; class names are the first
    prompt of each class. Without texts, a baked checkpoint's vocabulary
    is used, else (at the first call) the checkpoint's training classes.
    An empty vocabulary is refused. Closed-set models use their own classes and refuse texts.
    Baked checkpoints (``tools/deploy/reparameterize.py``) have no text
    encoder: they only accept their own vocabulary.

    **Exemplars** (docs/exemplar_prompts.md): ``exemplars`` (or
    :meth:`set_exemplars`) reads a file of ``tools/make_exemplars.py`` or
    ``tools/prompt_tune.py`` made with the same checkpoint (another model's
    file is refused). A class of the file that is also a text class is used
    as ``exemplar_use`` says (``'both'``, ``'exemplars'`` or ``'text'``;
    ``class_use`` overrides it per class); a class only in the file is
    exemplar-only and follows the text classes. :attr:`mixed` reports how
    each class embedding was made (exemplars used, outliers excluded).

    **OK/NG**: an image's defect score is its highest detection score; it
    is NG when that is at or above the threshold. The threshold comes from
    ``ok_ng_threshold`` (a number), or ``threshold_file``, or by default
    the file that ``tools/analysis_tools/calibrate_threshold.py`` writes
    next to the checkpoint (``<weights without .pth>.okng.json``). Without
    any, ``verdict`` is None.

    **Outputs** of :meth:`__call__`: a dict with ``predictions`` (one per
    image: a dict, or a :class:`DetDataSample` with ``return_datasamples``
    whose metainfo carries ``image_name``, ``defect_score`` and
    ``verdict``), ``visualization`` (drawn RGB images with ``return_vis``),
    ``skipped`` and ``classes``. With ``out_dir``: drawn images in
    ``out_dir/vis/`` (unless ``no_save_vis``), and with
    ``no_save_pred=False`` a COCO-style ``out_dir/predictions.json``
    (``images`` with size, defect score and verdict; ``categories`` with
    their prompts; ``annotations`` with ``bbox`` ``[x, y, w, h]`` and
    ``score``; ``skipped``).

    Subclasses that run another backend override :meth:`forward`; the
    current vocabulary is :attr:`vocabulary` and its (1, K, D) embeddings
    :attr:`text_feats`.

    Args:
        model (str | Config | dict): Config file or config.
        weights (str, optional): Checkpoint (training, slim or baked).
        device (str, optional): ``'cpu'``, ``'cuda:0'``... None picks one.
        texts (optional): Default vocabulary (see above).
        ok_ng_threshold (float, optional): OK/NG threshold.
        threshold_file (str, optional): OK/NG threshold file
            (:class:`~.ok_ng.OKNGThreshold`).
        palette (str): Box colours. Defaults to ``'random'``.
        show_progress (bool): Progress bar over the images. Defaults to
            True.
        scope (str): Registry scope. Defaults to ``'mmioc_rtvp'``.
        max_pixels (int): Image files declaring more pixels (width x
            height) are skipped before decoding. Defaults to
            :data:`~.inference_inputs.MAX_IMAGE_PIXELS`.
        exemplars (str | PromptEmbeddings, optional): Exemplar / tuned
            embeddings file (see above).
        exemplar_use (str): ``'both'`` (default), ``'exemplars'`` or
            ``'text'``: how a class with text and file entries is used.
        class_use (Mapping[str, str], optional): Per-class overrides.
    """

    def __init__(self,
                 model: Union[str, Config, dict],
                 weights: Optional[str] = None,
                 device: Optional[str] = None,
                 texts: Optional[VocabularyLike] = None,
                 ok_ng_threshold: Optional[float] = None,
                 threshold_file: Optional[str] = None,
                 palette: str = 'random',
                 show_progress: bool = True,
                 scope: str = 'mmioc_rtvp',
                 max_pixels: int = MAX_IMAGE_PIXELS,
                 exemplars: Optional[Union[str, PromptEmbeddings]] = None,
                 exemplar_use: str = BOTH,
                 class_use: Optional[Mapping[str, str]] = None) -> None:
        if isinstance(model, str) and not osp.isfile(model):
            raise FileNotFoundError(f'config file {model} does not exist')
        self.weights = weights
        self.vocabulary: Optional[Vocabulary] = None
        self.baked = False
        self._skipped: List[Tuple[str, str]] = []
        self._records: List[dict] = []
        self._frame_stride = 1
        self._vis_names: Set[str] = set()
        self.max_pixels = int(max_pixels)
        self.exemplars: Optional[PromptEmbeddings] = None
        self.exemplar_use = exemplar_use
        self.class_use: Dict[str, str] = dict(class_use or {})
        self.mixed: Optional[MixedVocabulary] = None
        self._texts: Optional[Vocabulary] = None
        super().__init__(
            model=model,
            weights=weights,
            device=device,
            scope=scope,
            palette=palette,
            show_progress=show_progress)
        self.ok_ng = self._init_ok_ng(ok_ng_threshold, threshold_file)
        if exemplars is not None:
            self.set_exemplars(exemplars, exemplar_use, class_use, texts)
        elif texts is not None:
            self.set_vocabulary(texts)
        elif self.baked:
            self._use_vocabulary(self.vocabulary)

    # ------------------------------------------------------------------
    # construction
    # ------------------------------------------------------------------
    def _init_model(self, cfg: Config, weights: Optional[str],
                    device: str = 'cpu') -> torch.nn.Module:
        """Build the model and load the checkpoint, checking they match
        (see :func:`~.model_loading.build_detector`)."""
        if not isinstance(cfg, Config):
            cfg = Config(cfg.to_dict() if isinstance(cfg, ConfigDict) else
                         dict(cfg))
        model, checkpoint = build_detector(cfg, weights)
        if BAKED_KEY in checkpoint:
            baked = checkpoint[BAKED_KEY]
            self.baked = True
            self.vocabulary = Vocabulary.parse(baked['prompts'])
            model.text_feats = baked['text_feats'].float().reshape(
                1, len(self.vocabulary), -1)
            model.vocabulary = self.vocabulary.names
        if self.palette != 'none':
            model.dataset_meta['palette'] = self.palette
        return model.to(device)

    def _init_pipeline(self, cfg: Config) -> Compose:
        """The test pipeline without annotation / dataset-text loading,
        reading decoded arrays (images are decoded by the inferencer, so
        that an unreadable file is reported and skipped)."""
        return build_array_pipeline(cfg, DROPPED_META_KEYS)

    def _init_collate(self, cfg: Config):
        """``pseudo_collate``: batches are lists of ``(InferenceInput,
        packed sample)`` pairs, whatever the config's test collate."""
        return pseudo_collate

    def _init_ok_ng(self, threshold: Optional[float],
                    threshold_file: Optional[str]
                    ) -> Optional[OKNGThreshold]:
        if threshold is not None:
            return OKNGThreshold(threshold=threshold)
        if threshold_file is not None:
            return OKNGThreshold.load(threshold_file)
        if self.weights and osp.isfile(default_threshold_file(self.weights)):
            path = default_threshold_file(self.weights)
            print_log(f'MMIOCInferencer: OK/NG threshold from {path}',
                      logger='current')
            return OKNGThreshold.load(path)
        return None

    # ------------------------------------------------------------------
    # vocabulary
    # ------------------------------------------------------------------
    @property
    def open_vocabulary(self) -> bool:
        """Whether the model detects free-text classes."""
        return hasattr(self.model, 'reparameterize') and hasattr(
            self.model.backbone, 'forward_text')

    @property
    def text_feats(self) -> Optional[Tensor]:
        """(1, K, D) embeddings of the current vocabulary (None for a
        closed-set model)."""
        return getattr(self.model, 'text_feats', None)

    @property
    def classes(self) -> List[str]:
        """Names of the classes the labels index."""
        if self.vocabulary is not None:
            return self.vocabulary.names
        return list(self.model.dataset_meta.get('classes', []))

    def encode_vocabulary(self, vocabulary: Vocabulary) -> Tensor:
        """(1, K, D) class embeddings (prompt ensembles averaged)."""
        device = next(self.model.parameters()).device
        return vocabulary.embed(
            lambda t: self.model.backbone.forward_text(t, device=device))

    def set_vocabulary(self, texts: VocabularyLike) -> Vocabulary:
        """Make ``texts`` the classes of the following calls.

        Args:
            texts: Any form :meth:`Vocabulary.parse` accepts.

        Returns:
            Vocabulary: The parsed vocabulary.

        Raises:
            ValueError: Empty vocabulary, closed-set model, or a baked
                model asked for another vocabulary.
        """
        vocabulary = Vocabulary.parse(texts)
        if self.exemplars is not None:
            if vocabulary != self._texts:
                self._texts = vocabulary
                self._apply_exemplars()
            return self.vocabulary
        if vocabulary == self.vocabulary:
            return vocabulary
        if not self.open_vocabulary:
            raise ValueError(
                f'{type(self.model).__name__} is a closed-set detector: its '
                f'classes are {self.classes}; it cannot take texts')
        if self.baked:
            raise ValueError(
                f'the checkpoint {self.weights} has a baked vocabulary '
                f'{self.vocabulary.names} and no text encoder; use the '
                f'training checkpoint to detect {vocabulary.names}')
        with torch.no_grad():
            self.model.text_feats = self.encode_vocabulary(vocabulary)
        self.model.vocabulary = vocabulary.names
        self.vocabulary = vocabulary
        self._use_vocabulary(vocabulary)
        return vocabulary

    def model_fingerprint(self) -> str:
        """The fingerprint exemplar files must carry
        (:func:`~.model_fingerprint.model_fingerprint`)."""
        if getattr(self, '_fingerprint', None) is None:
            self._fingerprint = model_fingerprint(self.model)
        return self._fingerprint

    def set_exemplars(self,
                      exemplars: Union[str, PromptEmbeddings],
                      use: str = BOTH,
                      class_use: Optional[Mapping[str, str]] = None,
                      texts: Optional[VocabularyLike] = None) -> Vocabulary:
        """Use an exemplar / tuned embeddings file from now on.

        Args:
            exemplars (str | PromptEmbeddings): The file (or its contents),
                made with this checkpoint.
            use (str): How a class with text and file entries is used:
                ``'both'``, ``'exemplars'`` or ``'text'``.
            class_use (Mapping[str, str], optional): Per-class overrides.
            texts (optional): The text classes; None keeps the current ones
                (none: the file's classes only).

        Returns:
            Vocabulary: Text classes, then the file-only classes (named by
            their class name).

        Raises:
            PromptEmbeddingsError: A file of another model or width, or a
                malformed file (one line naming it).
            ValueError: A closed-set or baked model, or a class lacking what
                its use needs.
        """
        if not self.open_vocabulary:
            raise ValueError(
                f'{type(self.model).__name__} is a closed-set detector: it '
                'cannot take exemplars')
        if self.baked:
            raise ValueError(
                f'the checkpoint {self.weights} has a baked vocabulary; use '
                'the training checkpoint with exemplars')
        fingerprint = self.model_fingerprint()
        dim = text_embed_dim(self.model)
        if isinstance(exemplars, PromptEmbeddings):
            check_prompt_embeddings_model(exemplars, fingerprint, dim)
        else:
            exemplars = load_prompt_embeddings(exemplars, fingerprint, dim)
        self.exemplars = exemplars
        self.exemplar_use = use
        self.class_use = dict(class_use or {})
        if texts is not None:
            self._texts = Vocabulary.parse(texts)
        return self._apply_exemplars()

    def clear_exemplars(self) -> None:
        """Back to text classes only: the exemplar file is dropped and the
        next vocabulary is encoded from its text."""
        if self.exemplars is None:
            return
        self.exemplars, self.mixed, self._texts = None, None, None
        self.vocabulary = None

    def _apply_exemplars(self) -> Vocabulary:
        """Class embeddings of the text classes and the exemplar file."""
        device = next(self.model.parameters()).device
        specs = class_specs(
            self._texts.to_list() if self._texts is not None else [],
            self.exemplars, self.exemplar_use, self.class_use)
        with torch.no_grad():
            mixed = build_mixed_vocabulary(
                specs, self.exemplars,
                lambda p: self.model.backbone.forward_text([p],
                                                           device=device))
        self.model.set_class_embeddings(
            torch.from_numpy(mixed.embeddings), mixed.names)
        self.mixed = mixed
        self.vocabulary = Vocabulary(
            tuple(s.prompts or (s.name, ) for s in specs))
        for line in mixed.summary():
            print_log(f'MMIOCInferencer: {line}', logger='current')
        self._use_vocabulary(self.vocabulary)
        return self.vocabulary

    @property
    def exemplar_uses(self) -> Optional[Dict[str, str]]:
        """``{class: use}`` of the classes that read the exemplar file
        (None without one)."""
        if self.mixed is None:
            return None
        return {r.name: r.use for r in self.mixed.reports if r.use != 'text'}

    def _use_training_classes(self) -> None:
        """Default vocabulary: the checkpoint's training classes."""
        classes = self.model.dataset_meta.get('classes')
        if not classes:
            raise ValueError('empty vocabulary: pass texts= (class prompts '
                             'or a class-text file); the checkpoint names no '
                             'classes')
        print_log(
            'MMIOCInferencer: no texts given: using the checkpoint\'s '
            f'{len(classes)} training classes', logger='current')
        self.set_vocabulary(list(classes))

    def _use_vocabulary(self, vocabulary: Vocabulary) -> None:
        if self.visualizer is not None:
            self.visualizer.dataset_meta = dict(
                classes=vocabulary.names, palette=self.palette)
        if (self.ok_ng is not None and self.ok_ng.vocabulary is not None
                and (self.ok_ng.vocabulary != vocabulary.to_list()
                     or self.ok_ng.exemplars != self.exemplar_uses)):
            print_log(
                'MMIOCInferencer: the OK/NG threshold was calibrated with '
                f'another vocabulary ({self.ok_ng.vocabulary}, exemplars '
                f'{self.ok_ng.exemplars}); scores of '
                'other prompts may need another threshold',
                logger='current',
                level=30)

    # ------------------------------------------------------------------
    # inputs
    # ------------------------------------------------------------------
    def _inputs_to_list(self, inputs: InputsType) -> list:
        """Images and videos of ``inputs`` (see
        :func:`~.inference_inputs.expand_inputs`)."""
        return expand_inputs(inputs)

    def preprocess(self,
                   inputs: list,
                   batch_size: int = 1,
                   num_workers: int = 0,
                   **kwargs):
        """Batches of ``(InferenceInput list, collated data)``, decoded
        lazily (by ``num_workers`` loader threads ahead of the model, see
        :func:`~.inference_inputs.iter_loaded`); unreadable inputs are
        recorded in ``self._skipped``."""
        total = math.ceil(num_images(inputs, self._frame_stride) /
                          batch_size)
        loaded = iter_loaded(inputs, self._frame_stride, self._skipped,
                             self.pipeline, self.max_pixels, num_workers,
                             prefetch=batch_size)
        chunks = self._get_chunk_data(loaded, batch_size)
        return _SizedBatches(map(self.collate_fn, chunks), total)

    def _get_chunk_data(self, inputs, chunk_size: int):
        """Lists of ``chunk_size`` ``(InferenceInput, pipeline output)``."""
        chunk = []
        for pair in inputs:
            chunk.append(pair)
            if len(chunk) == chunk_size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    # ------------------------------------------------------------------
    # outputs
    # ------------------------------------------------------------------
    def _verdict(self, defect_score: float) -> Optional[str]:
        return None if self.ok_ng is None else self.ok_ng.verdict(
            defect_score)

    def _file_name(self, item: InferenceInput) -> str:
        """Name of the drawn file of ``item``, unique within a call."""
        if item.frame is not None:
            stem = osp.splitext(osp.basename(item.name.rsplit('#', 1)[0]))[0]
            name = f'{stem}_frame{item.frame:06d}.jpg'
        elif item.path is not None:
            name = osp.basename(item.path)
        else:
            name = f'{item.name}.jpg'
        stem, ext = osp.splitext(name)
        count = 0
        while name in self._vis_names:
            count += 1
            name = f'{stem}_{count}{ext}'
        self._vis_names.add(name)
        return name

    def visualize(self,
                  inputs: List[InferenceInput],
                  preds: list,
                  return_vis: bool = False,
                  show: bool = False,
                  wait_time: int = 0,
                  draw_pred: bool = True,
                  pred_score_thr: float = 0.3,
                  no_save_vis: bool = False,
                  img_out_dir: str = '',
                  **kwargs) -> Optional[List[np.ndarray]]:
        """Draw the boxes of score >= ``pred_score_thr`` and, with a
        threshold, the OK/NG verdict; files go to ``img_out_dir/vis/``."""
        if no_save_vis:
            img_out_dir = ''
        if not show and not img_out_dir and not return_vis:
            return None
        if self.visualizer is None:
            raise ValueError('drawing needs a "visualizer" in the config')
        drawn = []
        for item, pred in zip(inputs, preds):
            out_file = (osp.join(img_out_dir, 'vis', self._file_name(item))
                        if img_out_dir else None)
            image = np.ascontiguousarray(item.img[:, :, ::-1])
            self.visualizer.add_datasample(
                item.name, image, pred, show=False, draw_gt=False,
                draw_pred=draw_pred, pred_score_thr=pred_score_thr)
            canvas = self.visualizer.get_image()
            verdict = self._verdict(
                image_defect_score(pred.pred_instances.scores.tolist()))
            if verdict is not None:
                canvas = self._draw_verdict(canvas, verdict)
            if out_file:
                os.makedirs(osp.dirname(out_file), exist_ok=True)
                cv2.imwrite(out_file, canvas[:, :, ::-1])
            if show:
                self.visualizer.show(canvas, win_name=item.name,
                                     wait_time=wait_time)
            drawn.append(canvas)
        return drawn

    @staticmethod
    def _draw_verdict(canvas: np.ndarray, verdict: str) -> np.ndarray:
        """Write ``OK`` (green) or ``NG`` (red) in the top-left corner of an
        RGB image."""
        canvas = np.ascontiguousarray(canvas.copy())
        colour = (0, 160, 0) if verdict == 'OK' else (220, 0, 0)
        scale = max(canvas.shape[0], canvas.shape[1]) / 640
        cv2.putText(canvas, verdict, (8, int(8 + 28 * scale)),
                    cv2.FONT_HERSHEY_SIMPLEX, scale, colour,
                    max(1, int(2 * scale)), cv2.LINE_AA)
        return canvas

    def postprocess(self,
                    preds: list,
                    visualization: Optional[List[np.ndarray]] = None,
                    return_datasamples: bool = False,
                    print_result: bool = False,
                    no_save_pred: bool = False,
                    pred_out_dir: str = '',
                    inputs: Sequence[InferenceInput] = (),
                    **kwargs) -> Dict:
        """Predictions as dicts (or data samples) with the defect score
        and verdict (``inputs``: the batch's images, in order); records
        them for the COCO-style results file."""
        if len(inputs) != len(preds):
            raise ValueError(f'{len(preds)} predictions for {len(inputs)} '
                             'inputs')
        names = self.classes
        results = []
        for item, pred in zip(inputs, preds):
            inst = pred.pred_instances
            scores = inst.scores.tolist()
            defect_score = image_defect_score(scores)
            verdict = self._verdict(defect_score)
            self._records.append(
                dict(name=item.name, shape=tuple(pred.ori_shape),
                     bboxes=inst.bboxes.tolist(), scores=scores,
                     labels=inst.labels.tolist(), defect_score=defect_score,
                     verdict=verdict))
            if return_datasamples:
                pred.set_metainfo(
                    dict(image_name=item.name, defect_score=defect_score,
                         verdict=verdict))
                results.append(pred)
                continue
            labels = inst.labels.tolist()
            result = dict(
                image=item.name, labels=labels, scores=scores,
                bboxes=inst.bboxes.tolist(),
                label_names=[names[i] if i < len(names) else str(i)
                             for i in labels],
                defect_score=defect_score, verdict=verdict)
            if print_result:
                print(result)
            results.append(result)
        return dict(predictions=results, visualization=visualization)

    def _coco_results(self) -> dict:
        """The recorded predictions in COCO format (1-based ids; category
        ``k + 1`` is class ``k`` of the vocabulary)."""
        images, annotations = [], []
        for image_id, rec in enumerate(self._records, start=1):
            images.append(
                dict(id=image_id, file_name=rec['name'],
                     height=int(rec['shape'][0]), width=int(rec['shape'][1]),
                     defect_score=rec['defect_score'],
                     verdict=rec['verdict']))
            for box, score, label in zip(rec['bboxes'], rec['scores'],
                                         rec['labels']):
                x1, y1, x2, y2 = box
                annotations.append(
                    dict(id=len(annotations) + 1, image_id=image_id,
                         category_id=int(label) + 1,
                         bbox=[x1, y1, x2 - x1, y2 - y1],
                         area=(x2 - x1) * (y2 - y1), score=score))
        prompts = (self.vocabulary.to_list() if self.vocabulary is not None
                   else [[c] for c in self.classes])
        categories = [
            dict(id=k + 1, name=p[0], texts=p) for k, p in enumerate(prompts)
        ]
        info = dict(
            config=self.cfg.filename, weights=self.weights,
            ok_ng_threshold=(None if self.ok_ng is None else
                             self.ok_ng.threshold))
        return dict(
            info=info, images=images, annotations=annotations,
            categories=categories,
            skipped=[dict(input=n, reason=r) for n, r in self._skipped])

    # ------------------------------------------------------------------
    # call
    # ------------------------------------------------------------------
    def __call__(self,
                 inputs: InputsType,
                 batch_size: int = 1,
                 texts: Optional[VocabularyLike] = None,
                 frame_stride: int = 1,
                 return_vis: bool = False,
                 show: bool = False,
                 wait_time: int = 0,
                 no_save_vis: bool = False,
                 draw_pred: bool = True,
                 pred_score_thr: float = 0.3,
                 return_datasamples: bool = False,
                 print_result: bool = False,
                 no_save_pred: bool = True,
                 out_dir: str = '',
                 num_workers: int = 0) -> dict:
        """Detect the vocabulary's classes in ``inputs``.

        Args:
            inputs: Image paths, BGR arrays, folders, globs, videos or a
                list of them.
            batch_size (int): Images per forward. Defaults to 1.
            texts (optional): Vocabulary for this call and the next ones
                (see the class doc); None keeps the current one.
            frame_stride (int): Run one video frame in this many.
                Defaults to 1.
            return_vis (bool): Return the drawn images. Defaults to False.
            show (bool): Show them in a window. Defaults to False.
            wait_time (int): Seconds each window stays. Defaults to 0.
            no_save_vis (bool): Do not write drawn images.
            draw_pred (bool): Draw the boxes. Defaults to True.
            pred_score_thr (float): Boxes of lower score are not drawn
                (all are returned). Defaults to 0.3.
            return_datasamples (bool): Return :class:`DetDataSample`.
            print_result (bool): Print each prediction dict.
            no_save_pred (bool): Do not write ``predictions.json``.
                Defaults to True.
            out_dir (str): Output folder ('' writes nothing).
            num_workers (int): Loader threads decoding and letterboxing
                the next images while the model runs (0: none); outputs
                and skipped inputs are the same. Defaults to 0.

        Returns:
            dict: ``predictions``, ``visualization``, ``skipped`` (list of
            ``(input, reason)``) and ``classes``.
        """
        if frame_stride < 1:
            raise ValueError(f'frame_stride must be >= 1, got {frame_stride}')
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        if num_workers < 0:
            raise ValueError(f'num_workers must be >= 0, got {num_workers}')
        init_default_scope(self.scope)
        if texts is not None:
            self.set_vocabulary(texts)
        elif self.open_vocabulary and self.vocabulary is None:
            self._use_training_classes()
        self._frame_stride = frame_stride
        self._skipped, self._records, self._vis_names = [], [], set()
        items = self._inputs_to_list(inputs)
        batches = self.preprocess(items, batch_size=batch_size,
                                  num_workers=num_workers)
        out = dict(predictions=[], visualization=[])
        for batch_inputs, data in self._track(batches):
            preds = self.forward(data)
            vis = self.visualize(
                batch_inputs, preds, return_vis=return_vis, show=show,
                wait_time=wait_time, draw_pred=draw_pred,
                pred_score_thr=pred_score_thr, no_save_vis=no_save_vis,
                img_out_dir=out_dir)
            res = self.postprocess(
                preds, vis, return_datasamples=return_datasamples,
                print_result=print_result, inputs=batch_inputs)
            out['predictions'].extend(res['predictions'])
            if vis is not None:
                out['visualization'].extend(vis)
        out['skipped'] = list(self._skipped)
        out['classes'] = self.classes
        if out_dir and not no_save_pred:
            os.makedirs(out_dir, exist_ok=True)
            with open(osp.join(out_dir, RESULTS_FILE), 'w',
                      encoding='utf-8') as f:
                json.dump(self._coco_results(), f)
        self._report_skipped()
        return out

    def _track(self, batches: _SizedBatches):
        if not self.show_progress:
            return batches
        from rich.progress import track
        return track(batches, description='Inference', total=len(batches))

    def _report_skipped(self) -> None:
        if not self._skipped:
            return
        lines = '\n'.join(f'  {name}: {reason}'
                          for name, reason in self._skipped)
        print_log(
            f'MMIOCInferencer: skipped {len(self._skipped)} unreadable '
            f'input(s):\n{lines}', logger='current', level=30)
