# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Question types with a checkable answer, and a parser that recognises
them in free text.

=========  ==============================================  ==================
type       examples                                        answer
=========  ==============================================  ==================
presence   "Is there a defect in this image?",             ``yes`` / ``no``
           "Is there a crack?",
           "Is this part OK?" (inverted: ``yes`` = none)
count      "How many instances of crack in wood are        ``0``, ``1``, ...
           there?", "How many cracks are there?",
           "How many defects are there?"
identify   "Which defect is in this image?",               class names
           "What is wrong?"                                sorted, ``'; '``-
                                                           joined; ``none``
locate     "Where is the hole in paper?", "Where is it?"   a cell of a 3 x 3
                                                           grid (``top left``
                                                           ... ``centre`` ...)
                                                           or ``not found``
open       anything else                                   the language model
=========  ==============================================  ==================
"""
import re
from dataclasses import dataclass
from typing import Optional, Tuple

from .category_hierarchy import CategoryHierarchy
from .detection import BadInputError

PRESENCE = 'presence'
COUNT = 'count'
IDENTIFY = 'identify'
LOCATE = 'locate'
OPEN = 'open'
CHECKABLE_TYPES: Tuple[str, ...] = (PRESENCE, COUNT, IDENTIFY, LOCATE)

# words that mean "any defect" rather than one class
_GENERIC = {'defect', 'defects', 'anomaly', 'anomalies', 'problem',
            'problems', 'flaw', 'flaws', 'it', 'this', 'them', 'instance',
            'instances', 'object', 'objects', 'one', 'thing'}
_PRESENCE_RE = re.compile(
    r'^(is|are) there (a|an|any) (defects?|anomal(y|ies)|problems?|flaws?)'
    r'|^(does|do) (it|this|the \w+) (have|show|contain) (a|an|any) '
    r'(defects?|anomal(y|ies)|problems?|flaws?)')
_OK_RE = re.compile(
    r'^is (this|the|it) (\w+ )?(ok|okay|fine|good|defect[- ]free|intact)'
    r'|^is it (ok|okay|fine|good|defect[- ]free|intact)')
_PRESENCE_OF_RE = re.compile(r'^(is|are) there (a |an |any )?(?P<target>.+?)'
                             r'( in (the|this) \w+| on (the|this) \w+)?$')
_COUNT_RE = re.compile(r'^how many (?P<target>.+?)'
                       r'( are (there|visible|in (the|this) \w+)'
                       r'| can you see| do you see| does it have'
                       r'| are present)?$')
_IDENTIFY_RE = re.compile(
    r'^(which|what) (kind of |type of |sort of )?(defects?|anomal(y|ies)|'
    r'problems?|flaws?)\b|^what is wrong|^what\'s wrong')
_LOCATE_RE = re.compile(r'^where (is|are) (?P<target>.+?)'
                        r'( located| in (the|this) \w+)?$')


@dataclass(frozen=True)
class ParsedQuestion:
    """A question and what it asks.

    Args:
        text (str): The question as asked.
        type (str): One of :data:`CHECKABLE_TYPES` or ``'open'``.
        classes (tuple[str], optional): The classes it is about; ``None``
            means any defect.
        inverted (bool): A presence question asked the other way round
            ("is it OK?": ``yes`` means no defect).
    """
    text: str
    type: str
    classes: Optional[Tuple[str, ...]] = None
    inverted: bool = False


def normalise(text: str) -> str:
    """Lower case, single spaces, no surrounding punctuation or quotes."""
    text = re.sub(r'\s+', ' ', text.lower()).strip()
    return text.strip(' ?.!,;:"\'')


def _singular(word: str) -> str:
    if word.endswith('ies'):
        return word[:-3] + 'y'
    if word.endswith(('ches', 'shes', 'sses', 'xes')):
        return word[:-2]
    if word.endswith('s') and not word.endswith('ss'):
        return word[:-1]
    return word


def match_classes(phrase: str, hierarchy: CategoryHierarchy
                  ) -> Optional[Tuple[str, ...]]:
    """The classes a noun phrase of a question refers to.

    Args:
        phrase (str): Normalised phrase, e.g. ``'the hole in paper'``,
            ``'cracks'`` or ``'defects'``.
        hierarchy (CategoryHierarchy): The vocabulary.

    Returns:
        tuple[str] | None: ``None`` for a generic phrase (any defect); the
        class containing the longest prompt found in the phrase; else every
        class whose name contains all the phrase's (singular) words; ``()``
        when nothing matches.
    """
    words = [w for w in re.split(r'[^a-z0-9-]+', phrase) if w]
    content = [w for w in words if w not in ('the', 'a', 'an', 'of', 'this',
                                             'that', 'these', 'those')]
    if not content or all(w in _GENERIC for w in content):
        return None
    padded = f' {phrase} '
    for alias, name in hierarchy.aliases():
        if f' {alias} ' in padded:
            return (name, )
    wanted = [_singular(w) for w in content if w not in _GENERIC]
    found = tuple(
        c.name for c in hierarchy.categories
        if all(w in re.split(r'[^a-z0-9-]+', c.name.lower()) for w in wanted))
    return found


def parse_question(question: str,
                   hierarchy: CategoryHierarchy) -> ParsedQuestion:
    """Recognise the type of ``question`` and the classes it is about.

    Args:
        question (str): Free text.
        hierarchy (CategoryHierarchy): The vocabulary.

    Returns:
        ParsedQuestion: Type ``'open'`` when no checkable type matches or
        when the question names something outside the vocabulary.

    Raises:
        BadInputError: ``question`` is empty or not a string.
    """
    if not isinstance(question, str) or not question.strip():
        raise BadInputError(f'question {question!r}: empty question')
    text = normalise(question)
    if _PRESENCE_RE.search(text):
        return ParsedQuestion(question, PRESENCE)
    if _OK_RE.search(text):
        return ParsedQuestion(question, PRESENCE, inverted=True)
    if _IDENTIFY_RE.search(text):
        return ParsedQuestion(question, IDENTIFY)
    for regex, qtype in ((_COUNT_RE, COUNT), (_LOCATE_RE, LOCATE),
                         (_PRESENCE_OF_RE, PRESENCE)):
        match = regex.match(text)
        if match:
            target = match.group('target')
            if qtype == COUNT and target.startswith('instances of '):
                target = target[len('instances of '):]
            classes = match_classes(target, hierarchy)
            if classes == ():
                break  # names something outside the vocabulary
            return ParsedQuestion(question, qtype, classes)
    return ParsedQuestion(question, OPEN)
