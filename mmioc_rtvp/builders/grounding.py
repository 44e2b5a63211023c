# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Referring expressions for MMIOC boxes: the attribute rules.

An expression names a class by its canonical prompt (``texts[0]`` of the
category, e.g. ``"crack in wood"``) and adds at most one attribute derived
from the boxes of that class in the same image (the *group*; boxes of other
classes never matter, the class prompt already excludes them):

============  ==========================================  =================
attribute     text                                         values
============  ==========================================  =================
``only``      ``the crack in wood``                        ``-``
``edge``      ``the crack in wood nearest the left edge``  left right top
                                                           bottom
``size``      ``the largest crack in wood``                largest smallest
``order``     ``the second crack in wood from the left``   ``left:2`` ...
                                                           ``top:5``
``region``    ``the crack in wood on the left``            left right top
                                                           bottom centre
============  ==========================================  =================

Each attribute has a *candidate set*: the boxes of the group a reader could
mean, allowing for a tolerance. Centres are normalised by the image size
(``cx = (x + w / 2) / W``), ``g`` is :attr:`ReferringRules.min_gap` and
``r`` is :attr:`ReferringRules.size_ratio`:

- ``only``: every box of the group.
- ``edge`` left: ``{i : cx_i < min_j cx_j + g}`` (right: ``cx_i > max_j
  cx_j - g``; top / bottom: the same with ``cy``).
- ``size`` largest: ``{i : r * area_i > max_j area_j}`` (smallest:
  ``area_i < r * min_j area_j``).
- ``order`` (axis, k), k >= 2: ``{i : lo_i <= k <= hi_i}`` with
  ``lo_i = 1 + #{j : c_j < c_i - g}`` (boxes surely before i) and
  ``hi_i = 1 + #{j != i : c_j < c_i + g}`` (boxes possibly before i).
- ``region`` left: ``{i : cx_i < 1/3 + g}`` (right: ``cx_i > 2/3 - g``; top /
  bottom: the same with ``cy``; centre: ``|cx_i - 1/2| < 1/6 + g`` and
  ``|cy_i - 1/2| < 1/6 + g``).

An expression is **emitted** for box i only if its candidate set is exactly
``{i}`` and, for ``order``, ``lo_i = hi_i = k``, and, for ``region``, box i
is inside the region with the margin (``cx_i < 1/3 - g`` for left,
``max(|cx_i - 1/2|, |cy_i - 1/2|) < 1/6 - g`` for centre). ``only`` needs a
group of one, ``edge`` and ``size`` of at least two, ``order`` of at least
three (k = 1 is the ``edge`` expression). A box for which no attribute
singles it out is *ambiguous*: it is skipped and counted.

Nothing here imports torch, mmengine or mmdet.
"""
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

ATTRIBUTES = ('only', 'edge', 'size', 'order', 'region')
SIDES = ('left', 'right', 'top', 'bottom')
REGIONS = ('left', 'right', 'top', 'bottom', 'centre')
SIZES = ('largest', 'smallest')
ORDINALS = ('first', 'second', 'third', 'fourth', 'fifth', 'sixth',
            'seventh', 'eighth', 'ninth', 'tenth')
# order counts from the left and from the top (from the right / bottom
# would repeat the same referents in other words)
ORDER_AXES = ('left', 'top')
_REGION_PHRASE = dict(
    left='on the left',
    right='on the right',
    top='at the top',
    bottom='at the bottom',
    centre='in the centre')


@dataclass(frozen=True)
class ReferringRules:
    """Tolerances of the attribute rules (see the module docstring).

    Args:
        min_gap (float): Centres closer than this fraction of the image side
            are indistinguishable along that axis. Defaults to 0.05.
        size_ratio (float): "largest" needs an area at least this many times
            every other area of the group ("smallest": at most 1/ratio).
            Defaults to 1.5.
        max_ordinal (int): Largest k of "the k-th ... from the left/top"
            (2 <= max_ordinal <= 10). Defaults to 5.
    """
    min_gap: float = 0.05
    size_ratio: float = 1.5
    max_ordinal: int = 5

    def __post_init__(self) -> None:
        if not 0 <= self.min_gap < 1 / 6:
            raise ValueError('ReferringRules: min_gap must be in [0, 1/6), '
                             f'got {self.min_gap}')
        if not self.size_ratio > 1:
            raise ValueError('ReferringRules: size_ratio must be > 1, got '
                             f'{self.size_ratio}')
        if not 2 <= self.max_ordinal <= len(ORDINALS):
            raise ValueError('ReferringRules: max_ordinal must be in '
                             f'[2, {len(ORDINALS)}], got {self.max_ordinal}')


@dataclass(frozen=True)
class Expression:
    """A referring expression for one box.

    Attributes:
        text (str): The expression, e.g. ``'the largest hole in wood'``.
        noun (str): The class prompt it names.
        attribute (str): One of :data:`ATTRIBUTES`.
        value (str): The attribute's value (``'-'`` for ``only``,
            ``'left:2'`` for "the second ... from the left").
    """
    text: str
    noun: str
    attribute: str
    value: str


def render(noun: str, attribute: str, value: str) -> str:
    """The text of an expression.

    Args:
        noun (str): Class prompt, e.g. ``'hole in wood'``.
        attribute (str): One of :data:`ATTRIBUTES`.
        value (str): Its value.

    Returns:
        str: E.g. ``'the second hole in wood from the left'``.
    """
    if attribute == 'only':
        return f'the {noun}'
    if attribute == 'edge':
        return f'the {noun} nearest the {value} edge'
    if attribute == 'size':
        return f'the {value} {noun}'
    if attribute == 'order':
        axis, k = value.split(':')
        return f'the {ORDINALS[int(k) - 1]} {noun} from the {axis}'
    if attribute == 'region':
        return f'the {noun} {_REGION_PHRASE[value]}'
    raise ValueError(f'unknown attribute {attribute!r}')


_PATTERNS: Tuple[Tuple[str, 're.Pattern'], ...] = (
    ('edge',
     re.compile(r'^the (?P<noun>.+) nearest the (?P<value>left|right|top|'
                r'bottom) edge$')),
    ('size', re.compile(r'^the (?P<value>largest|smallest) (?P<noun>.+)$')),
    ('order',
     re.compile(r'^the (?P<ordinal>' + '|'.join(ORDINALS) +
                r') (?P<noun>.+) from the (?P<value>left|top)$')),
    ('region',
     re.compile(r'^the (?P<noun>.+) (?P<value>' +
                '|'.join(_REGION_PHRASE.values()) + r')$')),
    ('only', re.compile(r'^the (?P<noun>.+)$')),
)


def parse(text: str, nouns: Sequence[str]) -> Expression:
    """Read an expression back into its class prompt and attribute.

    Args:
        text (str): An expression in the form :func:`render` writes.
        nouns (Sequence[str]): The class prompts it may name.

    Returns:
        Expression: The parsed expression.

    Raises:
        ValueError: The text follows no template or names no known class
            (the message quotes it).
    """
    known = set(nouns)
    for attribute, pattern in _PATTERNS:
        m = pattern.match(text)
        if m is None or m.group('noun') not in known:
            continue
        value = m.groupdict().get('value', '-')
        if attribute == 'region':
            value = {p: r for r, p in _REGION_PHRASE.items()}[value]
        if attribute == 'order':
            value = f"{value}:{ORDINALS.index(m.group('ordinal')) + 1}"
        return Expression(text, m.group('noun'), attribute, value)
    raise ValueError(f'{text!r} follows no expression template or names no '
                     'class of this file')


def _centres(boxes: np.ndarray, width: float,
             height: float) -> Tuple[np.ndarray, np.ndarray]:
    """(N,) normalised centres of (N, 4) xywh boxes."""
    cx = (boxes[:, 0] + boxes[:, 2] / 2) / width
    cy = (boxes[:, 1] + boxes[:, 3] / 2) / height
    return cx, cy


def _order_bounds(c: np.ndarray, gap: float) -> Tuple[np.ndarray, np.ndarray]:
    """Lowest and highest possible 1-based rank of every centre in c (N,)."""
    diff = c[None, :] - c[:, None]  # diff[i, j] = c_j - c_i
    others = ~np.eye(len(c), dtype=bool)
    lo = 1 + ((diff < -gap) & others).sum(1)
    hi = 1 + ((diff < gap) & others).sum(1)
    return lo, hi


def candidates(attribute: str, value: str, boxes: np.ndarray, width: float,
               height: float, rules: ReferringRules) -> np.ndarray:
    """Indices of the boxes of a group an attribute could refer to.

    Args:
        attribute (str): One of :data:`ATTRIBUTES`.
        value (str): Its value.
        boxes (np.ndarray): (N, 4) xywh boxes of one class in one image.
        width (float): Image width.
        height (float): Image height.
        rules (ReferringRules): Tolerances.

    Returns:
        np.ndarray: (M,) sorted indices into ``boxes``.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    g = rules.min_gap
    cx, cy = _centres(boxes, width, height)
    if attribute == 'only':
        keep = np.ones(len(boxes), dtype=bool)
    elif attribute == 'edge':
        c = cx if value in ('left', 'right') else cy
        keep = (c < c.min() + g) if value in ('left', 'top') else (
            c > c.max() - g)
    elif attribute == 'size':
        area = boxes[:, 2] * boxes[:, 3]
        keep = (rules.size_ratio * area > area.max()) if value == 'largest' \
            else (area < rules.size_ratio * area.min())
    elif attribute == 'order':
        axis, k = value.split(':')
        lo, hi = _order_bounds(cx if axis == 'left' else cy, g)
        keep = (lo <= int(k)) & (int(k) <= hi)
    elif attribute == 'region':
        keep = _in_region(value, cx, cy, g)
    else:
        raise ValueError(f'unknown attribute {attribute!r}')
    return np.flatnonzero(keep)


def _in_region(region: str, cx: np.ndarray, cy: np.ndarray,
               margin: float) -> np.ndarray:
    """(N,) bool: centres in a third of the image, grown by ``margin``
    (a negative margin shrinks it)."""
    if region == 'left':
        return cx < 1 / 3 + margin
    if region == 'right':
        return cx > 2 / 3 - margin
    if region == 'top':
        return cy < 1 / 3 + margin
    if region == 'bottom':
        return cy > 2 / 3 - margin
    if region == 'centre':
        return (np.abs(cx - 0.5) < 1 / 6 + margin) & (
            np.abs(cy - 0.5) < 1 / 6 + margin)
    raise ValueError(f'unknown region {region!r}')


def _attribute_values(num_boxes: int,
                      rules: ReferringRules) -> List[Tuple[str, str]]:
    """Every (attribute, value) worth trying for a group of this size."""
    values: List[Tuple[str, str]] = []
    if num_boxes == 1:
        values.append(('only', '-'))
    if num_boxes >= 2:
        values += [('edge', s) for s in SIDES]
        values += [('size', s) for s in SIZES]
    if num_boxes >= 3:
        values += [('order', f'{axis}:{k}') for axis in ORDER_AXES
                   for k in range(2, min(num_boxes, rules.max_ordinal) + 1)]
    values += [('region', r) for r in REGIONS]
    return values


def group_expressions(noun: str, boxes: np.ndarray, width: float,
                      height: float,
                      rules: ReferringRules) -> List[List[Expression]]:
    """Every expression that singles out each box of one class's group.

    Args:
        noun (str): The class prompt.
        boxes (np.ndarray): (N, 4) xywh boxes of the class in one image.
        width (float): Image width.
        height (float): Image height.
        rules (ReferringRules): Tolerances.

    Returns:
        list[list[Expression]]: For each box, its expressions in the order
        of :data:`ATTRIBUTES` (empty: the box is ambiguous).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    out: List[List[Expression]] = [[] for _ in range(len(boxes))]
    cx, cy = _centres(boxes, width, height)
    for attribute, value in _attribute_values(len(boxes), rules):
        cand = candidates(attribute, value, boxes, width, height, rules)
        if len(cand) != 1:
            continue
        i = int(cand[0])
        if attribute == 'order':
            axis, k = value.split(':')
            lo, hi = _order_bounds(cx if axis == 'left' else cy,
                                   rules.min_gap)
            if not lo[i] == hi[i] == int(k):
                continue
        if attribute == 'region' and not _in_region(
                value, cx[i:i + 1], cy[i:i + 1], -rules.min_gap)[0]:
            continue
        out[i].append(
            Expression(render(noun, attribute, value), noun, attribute,
                       value))
    return out


def referent_of(expression: Expression, boxes: np.ndarray, width: float,
                height: float, rules: ReferringRules) -> Optional[int]:
    """The one box of a group an expression refers to, or None.

    Args:
        expression (Expression): A parsed expression.
        boxes (np.ndarray): (N, 4) xywh boxes of its class in the image.
        width (float): Image width.
        height (float): Image height.
        rules (ReferringRules): Tolerances.

    Returns:
        int or None: The index of the single candidate; None when the
        expression matches no box or several.
    """
    cand = candidates(expression.attribute, expression.value, boxes, width,
                      height, rules)
    return int(cand[0]) if len(cand) == 1 else None


def noun_of(category: Dict) -> str:
    """The class prompt expressions use: the canonical text of a category
    (``texts[0]``, else ``name``)."""
    texts = category.get('texts') or [category.get('name', '')]
    return str(texts[0]).strip()
