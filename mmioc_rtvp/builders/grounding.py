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

The group also holds the *crowd regions* (``iscrowd`` boxes) of that class
in that image: a crowd region stands for one or more objects of the class,
each somewhere inside it, of any size up to the region's. It is never a
referent itself, but it keeps an expression from being written whenever one
of its objects could be what the expression names.

Every member (box or crowd region) has a range ``[lo, hi]`` for each
measure; a box's range is a point. Coordinates are normalised by the image
size: ``x1 = x / W``, ``x2 = (x + w) / W``, ``cx = (x + w / 2) / W`` (``y``
likewise with ``H``); for a crowd region ``x1``, ``x2`` and ``cx`` all range
over ``[x / W, (x + w) / W]`` and the area over ``(0, w * h]``. ``g`` is
:attr:`ReferringRules.min_gap`, ``r`` is :attr:`ReferringRules.size_ratio`.
Each attribute has a *candidate set*, the members a reader could mean:

- ``only``: every member.
- ``edge`` left, as a person reads "nearest the left edge": the box's own
  left side, ``x1``: ``{i : lo_i - min_j hi_j < g}`` (right: ``x2``,
  ``max_j lo_j - hi_i < g``; top: ``y1``; bottom: ``y2``).
- ``size`` largest: ``{i : r * hi_i > max_j lo_j}`` (smallest:
  ``lo_i < r * min_j hi_j``; a crowd region is always a candidate).
- ``order`` (axis, k), on centres ``cx`` / ``cy``: ``{i : rlo_i <= k <=
  rhi_i}`` with ``rlo_i = 1 + #{j : lo_i - hi_j >= g}`` (members surely
  before i) and ``rhi_i = 1 + #{j != i : not lo_j - hi_i >= g}`` (members
  possibly before i); a crowd region among the latter, or i itself a crowd
  region, makes ``rhi_i`` unbounded (it may hold any number of objects).
- ``region`` left, on centres: ``{i : lo_i < 1/3 + g}`` (right: ``hi_i >
  2/3 - g``; top / bottom: the same with ``cy``; centre: ``lo < 2/3 + g``
  and ``hi > 1/3 - g`` on both axes).

An expression is **emitted** for box i only if its candidate set is exactly
``{i}`` (no crowd region among them) and, for ``order``, ``rlo_i = rhi_i =
k``, and, for ``region``, box i is inside the region with the margin
(``cx_i < 1/3 - g`` for left, ``1/3 + g < cx_i, cy_i < 2/3 - g`` for
centre). ``only`` needs a group of one member, ``edge`` and ``size`` of at
least two, ``order`` of at least three (k = 1 is the ``edge`` expression).
A box for which no attribute singles it out is *ambiguous*: it is skipped
and counted.

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


#: the measures of a member; x-like ones are normalised by the width
_X_MEASURES = ('x1', 'x2', 'cx')
_Y_MEASURES = ('y1', 'y2', 'cy')
_EDGE_MEASURE = dict(left='x1', right='x2', top='y1', bottom='y2')


def _as_boxes(boxes: Optional[np.ndarray]) -> np.ndarray:
    if boxes is None:
        return np.zeros((0, 4), dtype=np.float64)
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)


def member_ranges(boxes: np.ndarray, crowd: Optional[np.ndarray],
                  width: float,
                  height: float) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
    """The ``(lo, hi)`` range of every measure of every member of a group.

    Args:
        boxes (np.ndarray): (N, 4) xywh boxes of one class in one image.
        crowd (np.ndarray, optional): (M, 4) xywh crowd regions of the class
            in the image.
        width (float): Image width.
        height (float): Image height.

    Returns:
        dict[str, tuple[np.ndarray, np.ndarray]]: For ``x1 x2 cx y1 y2 cy
        area``, two (N + M,) arrays; members are the boxes, then the crowd
        regions.
    """
    boxes, crowd = _as_boxes(boxes), _as_boxes(crowd)
    x, y, w, h = boxes.T
    point = dict(
        x1=x / width, x2=(x + w) / width, cx=(x + w / 2) / width,
        y1=y / height, y2=(y + h) / height, cy=(y + h / 2) / height,
        area=w * h)
    cx_, cy_, cw, ch = crowd.T
    x_span = (cx_ / width, (cx_ + cw) / width)
    y_span = (cy_ / height, (cy_ + ch) / height)
    ranges = {}
    for name, value in point.items():
        if name in _X_MEASURES:
            lo, hi = x_span
        elif name in _Y_MEASURES:
            lo, hi = y_span
        else:
            lo, hi = np.zeros(len(crowd)), cw * ch
        ranges[name] = (np.concatenate([value, lo]),
                        np.concatenate([value, hi]))
    return ranges


def _rank_bounds(lo: np.ndarray, hi: np.ndarray, num_boxes: int,
                 gap: float) -> Tuple[np.ndarray, np.ndarray]:
    """Lowest and highest possible 1-based rank of every member along an
    axis (float; ``inf`` when unbounded). Members from ``num_boxes`` on are
    crowd regions."""
    n = len(lo)
    others = ~np.eye(n, dtype=bool)
    is_crowd = np.arange(n) >= num_boxes
    surely = ((lo[:, None] - hi[None, :]) >= gap) & others
    possibly = ~((lo[None, :] - hi[:, None]) >= gap) & others
    rank_lo = 1.0 + surely.sum(1)
    rank_hi = 1.0 + possibly.sum(1)
    unbounded = (possibly & is_crowd[None, :]).any(1) | is_crowd
    rank_hi[unbounded] = np.inf
    return rank_lo, rank_hi


def _region_possible(region: str, ranges: Dict, g: float) -> np.ndarray:
    """(N + M,) bool: a member's centre may lie in an image third grown by
    ``g``."""
    (xlo, xhi), (ylo, yhi) = ranges['cx'], ranges['cy']
    if region == 'left':
        return xlo < 1 / 3 + g
    if region == 'right':
        return xhi > 2 / 3 - g
    if region == 'top':
        return ylo < 1 / 3 + g
    if region == 'bottom':
        return yhi > 2 / 3 - g
    if region == 'centre':
        return ((xlo < 2 / 3 + g) & (xhi > 1 / 3 - g) & (ylo < 2 / 3 + g)
                & (yhi > 1 / 3 - g))
    raise ValueError(f'unknown region {region!r}')


def _region_certain(region: str, cx: float, cy: float, g: float) -> bool:
    """Whether a box's centre lies in an image third shrunk by ``g``."""
    return dict(
        left=cx < 1 / 3 - g,
        right=cx > 2 / 3 + g,
        top=cy < 1 / 3 - g,
        bottom=cy > 2 / 3 + g,
        centre=(1 / 3 + g < cx < 2 / 3 - g) and (1 / 3 + g < cy < 2 / 3 - g),
    )[region]


def candidates(attribute: str,
               value: str,
               boxes: np.ndarray,
               width: float,
               height: float,
               rules: ReferringRules,
               crowd: Optional[np.ndarray] = None) -> np.ndarray:
    """Indices of the members of a group an attribute could refer to.

    Args:
        attribute (str): One of :data:`ATTRIBUTES`.
        value (str): Its value.
        boxes (np.ndarray): (N, 4) xywh boxes of one class in one image.
        width (float): Image width.
        height (float): Image height.
        rules (ReferringRules): Tolerances.
        crowd (np.ndarray, optional): (M, 4) xywh crowd regions of the class
            in the image.

    Returns:
        np.ndarray: (K,) sorted member indices: ``i < N`` is ``boxes[i]``,
        ``i >= N`` the crowd region ``crowd[i - N]``.
    """
    num_boxes = len(_as_boxes(boxes))
    ranges = member_ranges(boxes, crowd, width, height)
    g = rules.min_gap
    if len(ranges['area'][0]) == 0:
        return np.zeros(0, dtype=np.int64)
    if attribute == 'only':
        keep = np.ones(len(ranges['area'][0]), dtype=bool)
    elif attribute == 'edge':
        lo, hi = ranges[_EDGE_MEASURE[value]]
        keep = (lo - hi.min() < g) if value in ('left', 'top') else (
            lo.max() - hi < g)
    elif attribute == 'size':
        lo, hi = ranges['area']
        keep = (rules.size_ratio * hi > lo.max()) if value == 'largest' \
            else (lo < rules.size_ratio * hi.min())
    elif attribute == 'order':
        axis, k = value.split(':')
        rank_lo, rank_hi = _rank_bounds(
            *ranges['cx' if axis == 'left' else 'cy'], num_boxes, g)
        keep = (rank_lo <= int(k)) & (int(k) <= rank_hi)
    elif attribute == 'region':
        keep = _region_possible(value, ranges, g)
    else:
        raise ValueError(f'unknown attribute {attribute!r}')
    return np.flatnonzero(keep)


def _attribute_values(num_members: int,
                      rules: ReferringRules) -> List[Tuple[str, str]]:
    """Every (attribute, value) worth trying for a group of this size."""
    values: List[Tuple[str, str]] = []
    if num_members == 1:
        values.append(('only', '-'))
    if num_members >= 2:
        values += [('edge', s) for s in SIDES]
        values += [('size', s) for s in SIZES]
    if num_members >= 3:
        values += [('order', f'{axis}:{k}') for axis in ORDER_AXES
                   for k in range(2, min(num_members, rules.max_ordinal) + 1)]
    values += [('region', r) for r in REGIONS]
    return values


def _singles_out(attribute: str, value: str, i: int, ranges: Dict,
                 num_boxes: int, rules: ReferringRules) -> bool:
    """Whether box i, the one candidate, is certainly what is meant."""
    if attribute == 'order':
        axis, k = value.split(':')
        rank_lo, rank_hi = _rank_bounds(
            *ranges['cx' if axis == 'left' else 'cy'], num_boxes,
            rules.min_gap)
        return rank_lo[i] == rank_hi[i] == int(k)
    if attribute == 'region':
        return _region_certain(value, ranges['cx'][0][i], ranges['cy'][0][i],
                               rules.min_gap)
    return True


def group_expressions(
        noun: str,
        boxes: np.ndarray,
        width: float,
        height: float,
        rules: ReferringRules,
        crowd: Optional[np.ndarray] = None) -> List[List[Expression]]:
    """Every expression that singles out each box of one class's group.

    Args:
        noun (str): The class prompt.
        boxes (np.ndarray): (N, 4) xywh boxes of the class in one image.
        width (float): Image width.
        height (float): Image height.
        rules (ReferringRules): Tolerances.
        crowd (np.ndarray, optional): (M, 4) xywh crowd regions of the class
            in the image (never referents; they make expressions an object
            of theirs could also satisfy ambiguous).

    Returns:
        list[list[Expression]]: For each box, its expressions in the order
        of :data:`ATTRIBUTES` (empty: the box is ambiguous).
    """
    boxes = _as_boxes(boxes)
    num_boxes = len(boxes)
    out: List[List[Expression]] = [[] for _ in range(num_boxes)]
    ranges = member_ranges(boxes, crowd, width, height)
    num_members = len(ranges['area'][0])
    for attribute, value in _attribute_values(num_members, rules):
        cand = candidates(attribute, value, boxes, width, height, rules,
                          crowd)
        if len(cand) != 1 or cand[0] >= num_boxes:
            continue
        i = int(cand[0])
        if _singles_out(attribute, value, i, ranges, num_boxes, rules):
            out[i].append(
                Expression(render(noun, attribute, value), noun, attribute,
                           value))
    return out


def referent_of(expression: Expression,
                boxes: np.ndarray,
                width: float,
                height: float,
                rules: ReferringRules,
                crowd: Optional[np.ndarray] = None) -> Optional[int]:
    """The one box of a group an expression refers to, or None.

    Args:
        expression (Expression): A parsed expression.
        boxes (np.ndarray): (N, 4) xywh boxes of its class in the image.
        width (float): Image width.
        height (float): Image height.
        rules (ReferringRules): Tolerances.
        crowd (np.ndarray, optional): (M, 4) xywh crowd regions of the class.

    Returns:
        int or None: The index of the single candidate box; None when the
        expression matches no member, several, or a crowd region.
    """
    cand = candidates(expression.attribute, expression.value, boxes, width,
                      height, rules, crowd)
    if len(cand) != 1 or cand[0] >= len(_as_boxes(boxes)):
        return None
    return int(cand[0])


def noun_of(category: Dict) -> str:
    """The class prompt expressions use: the canonical text of a category
    (``texts[0]``, else ``name``)."""
    texts = category.get('texts') or [category.get('name', '')]
    return str(texts[0]).strip()


def _prompt_key(text: str) -> str:
    """A prompt as a reader compares it: case and spacing ignored."""
    return ' '.join(str(text).split()).casefold()


def check_distinct_nouns(categories: Sequence[Dict],
                         source: str = '<dict>') -> None:
    """Refuse categories whose expressions a reader could not tell apart.

    The class prompt of an expression (:func:`noun_of`) must not be a prompt
    text (any of ``texts``, or ``name``) of another category, case and
    spacing ignored: "the hole in wood" would name both classes.

    Args:
        categories (Sequence[dict]): The categories of an MMIOC file.
        source (str): The file's name, for the message.

    Raises:
        ValueError: One line naming both classes, the text and the file.
    """
    owners: Dict[str, List[Dict]] = {}
    for cat in categories:
        texts = list(cat.get('texts') or []) + [cat.get('name', '')]
        for key in {_prompt_key(t) for t in texts} - {''}:
            owners.setdefault(key, []).append(cat)
    for cat in categories:
        for other in owners.get(_prompt_key(noun_of(cat)), []):
            if other is cat:
                continue
            raise ValueError(
                f'{source}: categories {other.get("id")!r} '
                f'({other.get("name")!r}) and {cat.get("id")!r} '
                f'({cat.get("name")!r}) share the prompt text '
                f'{noun_of(cat)!r}; an expression could not say which '
                'class it means: give one of them another texts[0]')
