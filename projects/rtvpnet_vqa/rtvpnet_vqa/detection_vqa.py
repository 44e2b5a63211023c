# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Image + question -> detections -> structured prompt -> frozen LM."""
import copy
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

from mmengine.config import Config

from mmioc_rtvp.registry import MODELS

from .category_hierarchy import CategoryHierarchy
from .detection import BadInputError, ImageDetections
from .frozen_causal_lm import FrozenCausalLM
from .question import ParsedQuestion, parse_question
from .rule_answerer import rule_answer
from .structured_prompt_builder import StructuredPromptBuilder

# image path -> its detections; raises BadInputError for a bad image
DetectFn = Callable[[str], ImageDetections]


@dataclass
class VQAResult:
    """The answer to one (image, question) item.

    Args:
        image (str): The image path.
        question (str): The question.
        question_type (str, optional): Parsed type (``None`` on error).
        rule_answer (str, optional): Deterministic answer (checkable
            types), computed by rules from the detections.
        lm_answer (str, optional): The language model's answer.
        lm_saw_rule_answer (bool): The language model's prompt stated
            ``rule_answer`` as a fact (the prompt builder's
            ``include_rule_answer``, on by default), so ``lm_answer`` words
            the rules' answer rather than finding one of its own.
        prompt (str, optional): What the language model read.
        num_detections (int): Detections above the score threshold.
        num_new_tokens (int): Tokens the language model generated.
        error (str, optional): One line naming the bad input; the other
            fields are then empty.
    """
    image: str
    question: str
    question_type: Optional[str] = None
    rule_answer: Optional[str] = None
    lm_answer: Optional[str] = None
    lm_saw_rule_answer: bool = False
    prompt: Optional[str] = None
    num_detections: int = 0
    num_new_tokens: int = 0
    error: Optional[str] = None

    @property
    def answer(self) -> Optional[str]:
        """The language model's answer, else the deterministic one."""
        return self.lm_answer if self.lm_answer is not None \
            else self.rule_answer

    @property
    def answer_source(self) -> Optional[str]:
        """Where :attr:`answer` comes from: ``'rules'`` (computed from the
        detections), ``'language_model'``, ``'language_model_given_rules'``
        (its prompt stated the rules' answer) or None (no answer)."""
        if self.lm_answer is not None:
            return ('language_model_given_rules' if self.lm_saw_rule_answer
                    else 'language_model')
        return 'rules' if self.rule_answer is not None else None

    def to_json(self) -> dict:
        """Every field, plus ``answer`` and ``answer_source``."""
        return dict(vars(self), answer=self.answer,
                    answer_source=self.answer_source)


class DetectionVQA:
    """Visual question answering on top of a defect detector.

    Every question is parsed (:func:`parse_question`); a checkable one gets
    a deterministic answer from the detections (:func:`rule_answer`); with
    a language model, every question also gets its answer to the structured
    prompt (:class:`StructuredPromptBuilder`). A bad item (empty question,
    unreadable image) is reported in its result's ``error`` and the others
    are answered; each image is detected once however many questions ask
    about it.

    Args:
        detect (callable): Image path -> :class:`ImageDetections`; raises
            :class:`BadInputError` for an unusable image.
        hierarchy (CategoryHierarchy): The detector's vocabulary.
        language_model (FrozenCausalLM, optional): ``None`` answers from
            the detections only.
        prompt_builder (StructuredPromptBuilder, optional): Defaults to
            ``StructuredPromptBuilder()``.
    """

    def __init__(self,
                 detect: DetectFn,
                 hierarchy: CategoryHierarchy,
                 language_model: Optional[FrozenCausalLM] = None,
                 prompt_builder: Optional[StructuredPromptBuilder] = None
                 ) -> None:
        self.detect = detect
        self.hierarchy = hierarchy
        self.language_model = language_model
        self.prompt_builder = prompt_builder or StructuredPromptBuilder()

    @classmethod
    def from_config(cls,
                    cfg: Union[str, Config],
                    checkpoint: str,
                    language_model: Optional[str] = 'config',
                    device: str = 'cpu',
                    score_thr: Optional[float] = None,
                    max_new_tokens: Optional[int] = None) -> 'DetectionVQA':
        """Build the pipeline of a VQA config (``vqa`` section).

        The language model is loaded first, so a missing one fails before
        the detector is built.

        Args:
            cfg (str | Config): A config of ``projects/rtvpnet_vqa/configs``.
            checkpoint (str): Detector weights.
            language_model (str, optional): ``'config'``: the config's
                ``vqa.language_model``; ``None`` or ``'none'``: no language
                model (deterministic answers only); else a local directory
                or a cached hub id replacing the config's.
            device (str): Device of both models.
            score_thr (float, optional): Overrides ``vqa.score_thr``.
            max_new_tokens (int, optional): Overrides the config's budget.

        Raises:
            BadInputError: A missing language model, checkpoint, or
                annotation file (one line naming it).
        """
        cfg = Config.fromfile(cfg) if isinstance(cfg, str) else cfg
        vqa_cfg = cfg.get('vqa', {})
        lm = None
        if language_model not in (None, 'none'):
            lm_cfg = copy.deepcopy(vqa_cfg.get('language_model'))
            if lm_cfg is None:
                raise BadInputError('config: no vqa.language_model; pass a '
                                    'language model path or none')
            if language_model != 'config':
                lm_cfg['model_name_or_path'] = language_model
            if max_new_tokens:
                lm_cfg['max_new_tokens'] = max_new_tokens
            lm_cfg['device'] = device
            lm = MODELS.build(lm_cfg)
        from .rtvpnet_detections import RTVPNetDetections
        detect = RTVPNetDetections.from_checkpoint(
            cfg, checkpoint,
            score_thr=vqa_cfg.get('score_thr', 0.3)
            if score_thr is None else score_thr,
            device=device)
        return cls(detect, detect.hierarchy, lm,
                   StructuredPromptBuilder(**vqa_cfg.get('prompt_builder',
                                                         {})))

    def ask(self,
            items: Sequence[Tuple[str, str]],
            max_new_tokens: Optional[int] = None) -> List[VQAResult]:
        """Answer a batch of ``(image path, question)`` items.

        Args:
            items (Sequence[tuple[str, str]]): The requests.
            max_new_tokens (int, optional): Overrides the language model's
                generation budget.

        Returns:
            list[VQAResult]: One result per item, in order.
        """
        results = [VQAResult(image=str(img), question=q) for img, q in items]
        detections: Dict[str, object] = {}
        parsed: Dict[int, Tuple[ParsedQuestion, ImageDetections]] = {}
        for i, res in enumerate(results):
            try:
                question = parse_question(res.question, self.hierarchy)
            except BadInputError as err:
                res.error = str(err)
                continue
            if res.image not in detections:
                try:
                    detections[res.image] = self.detect(res.image)
                except BadInputError as err:
                    detections[res.image] = err
            found = detections[res.image]
            if isinstance(found, BadInputError):
                res.error = str(found)
                continue
            res.question_type = question.type
            res.rule_answer = rule_answer(question, found)
            res.num_detections = len(found.detections)
            parsed[i] = (question, found)
        if self.language_model is None or not parsed:
            return results
        order = sorted(parsed)
        prompts = [
            self.prompt_builder(
                parsed[i][1], results[i].question, self.hierarchy.names,
                self.hierarchy, results[i].rule_answer) for i in order
        ]
        answers = self.language_model.generate(prompts, max_new_tokens)
        for i, prompt, answer in zip(order, prompts, answers):
            results[i].prompt = prompt
            results[i].lm_answer = answer.text
            results[i].lm_saw_rule_answer = (
                results[i].rule_answer is not None
                and self.prompt_builder.include_rule_answer)
            results[i].num_new_tokens = answer.num_new_tokens
        return results
