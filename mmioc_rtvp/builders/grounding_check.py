# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Check a grounding file by reading each expression as a person would.

The generator (:mod:`~mmioc_rtvp.builders.grounding`) starts from the boxes
of one class and asks which attribute singles each out. This checker goes
the other way, from the caption's text alone: it reads the text against the
class prompts of the source file (every reading it admits, not the first
one that fits), then looks at every annotated object of the image - every
class, crowd regions included - and keeps each one the reading could
denote. An expression passes iff exactly one object could be meant, that
object is the annotated box, and it certainly satisfies the reading.

Objects and tolerances are reasoned about pairwise. An object has a range
for each measure (a box: its value; a crowd region: one or more objects
somewhere inside it, of any area up to its own). Positions are normalised
by the image side (``x1 = x / W``, ``x2 = (x + w) / W``, ``cx = (x + w / 2)
/ W``, ``y`` likewise); ``gap`` and ``ratio`` are the file's tolerances
(``info.grounding_rules``). Object p is *surely before* object o on a
measure when ``lo(o) - hi(p) >= gap``, *surely larger* when ``lo(p) >=
ratio * hi(o)``. Then o could be

- "the X": any X;
- "the X nearest the left edge" (``x1``; right ``x2``, top ``y1``, bottom
  ``y2``): unless another X is surely nearer that edge;
- "the largest X" / "the smallest X": unless another X is surely larger /
  smaller;
- "the k-th X from the left" (centres): if k lies between 1 + the number of
  Xs surely before o and 1 + the number possibly before it (a crowd region
  possibly before o, or o inside a crowd region, leaves the upper end open);
- "the X on the left" (centres): if o's centre may lie in the left third
  of the image, widened by ``gap`` (right, top, bottom: the other thirds;
  "in the centre": the middle cell).

"Certainly" narrows each: every other X surely farther from the edge, surely
smaller (larger), a rank known exactly, a centre inside the narrowed third.
A superlative presupposes at least two Xs, an ordinal at least three, "the
X" exactly one (a crowd region counts as at least one).

Nothing here imports the generator's rules or torch.
"""
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

_ORDINAL_WORDS = ('first', 'second', 'third', 'fourth', 'fifth', 'sixth',
                  'seventh', 'eighth', 'ninth', 'tenth')
_PLACES = {
    'on the left': 'left',
    'on the right': 'right',
    'at the top': 'top',
    'at the bottom': 'bottom',
    'in the centre': 'centre',
}
_EDGE_SIDE = dict(left='x1', right='x2', top='y1', bottom='y2')
#: the tolerances a file without ``info.grounding_rules`` was made with
DEFAULT_TOLERANCES = dict(min_gap=0.05, size_ratio=1.5)


@dataclass(frozen=True)
class Reading:
    """One way to read a caption.

    Attributes:
        noun (str): The class prompt named.
        kind (str): ``the``, ``edge``, ``largest``, ``smallest``, ``ordinal``
            or ``place``.
        where (str): Side, place or axis (``''`` for ``the`` and sizes).
        k (int): The ordinal (0 unless ``kind == 'ordinal'``).
    """
    noun: str
    kind: str
    where: str = ''
    k: int = 0


@dataclass
class _Object:
    """An annotated object: a box (point ranges) or a crowd region."""
    ann_id: object
    noun: str
    crowd: bool
    span: Dict[str, Tuple[float, float]]


def read_caption(text: str, nouns: Sequence[str]) -> List[Reading]:
    """Every reading of a caption whose class prompt is one of ``nouns``.

    Args:
        text (str): The caption.
        nouns (Sequence[str]): The class prompts of the file.

    Returns:
        list[Reading]: All readings (empty: none; several: the text is
        ambiguous as written).
    """
    readings = []
    words = text.split(' ')
    if len(words) < 2 or words[0] != 'the':
        return readings
    body = ' '.join(words[1:])
    for noun in nouns:
        if body == noun:
            readings.append(Reading(noun, 'the'))
        for size in ('largest', 'smallest'):
            if body == f'{size} {noun}':
                readings.append(Reading(noun, size))
        for side in _EDGE_SIDE:
            if body == f'{noun} nearest the {side} edge':
                readings.append(Reading(noun, 'edge', side))
        for phrase, place in _PLACES.items():
            if body == f'{noun} {phrase}':
                readings.append(Reading(noun, 'place', place))
        for k, word in enumerate(_ORDINAL_WORDS, 1):
            for axis in ('left', 'top'):
                if body == f'{word} {noun} from the {axis}':
                    readings.append(Reading(noun, 'ordinal', axis, k))
    return readings


def _spans(bbox: Sequence[float], crowd: bool, width: float,
           height: float) -> Dict[str, Tuple[float, float]]:
    x, y, w, h = (float(v) for v in bbox)
    if crowd:
        xs = (x / width, (x + w) / width)
        ys = (y / height, (y + h) / height)
        return dict(x1=xs, x2=xs, cx=xs, y1=ys, y2=ys, cy=ys,
                    area=(0.0, w * h))
    values = dict(x1=x / width, x2=(x + w) / width, cx=(x + w / 2) / width,
                  y1=y / height, y2=(y + h) / height,
                  cy=(y + h / 2) / height, area=w * h)
    return {name: (v, v) for name, v in values.items()}


def _usable(ann: dict, noun_of_cat: Dict) -> bool:
    bbox = ann.get('bbox')
    return (isinstance(bbox, (list, tuple)) and len(bbox) == 4
            and all(isinstance(v, (int, float)) and math.isfinite(v)
                    for v in bbox) and bbox[2] > 0 and bbox[3] > 0
            and ann.get('category_id') in noun_of_cat)


class _Reader:
    """Judges readings against the objects of one image."""

    def __init__(self, objects: List[_Object], gap: float,
                 ratio: float) -> None:
        self.objects = objects
        self.gap = gap
        self.ratio = ratio

    def _before(self, p: _Object, o: _Object, measure: str) -> bool:
        """p is surely before (smaller on ``measure`` than) o."""
        return o.span[measure][0] - p.span[measure][1] >= self.gap

    def _larger(self, p: _Object, o: _Object) -> bool:
        """p is surely larger than o."""
        return p.span['area'][0] >= self.ratio * o.span['area'][1]

    def _ranks(self, o: _Object, peers: List[_Object],
               measure: str) -> Tuple[int, float]:
        """Lowest and highest rank o may have along ``measure``."""
        others = [p for p in peers if p is not o]
        surely = [p for p in others if self._before(p, o, measure)]
        maybe = [p for p in others if not self._before(o, p, measure)]
        high = math.inf if o.crowd or any(p.crowd for p in maybe) \
            else 1 + len(maybe)
        return 1 + len(surely), high

    def _place(self, o: _Object, place: str, narrow: bool) -> bool:
        """o's centre lies (narrow: surely) in the image part ``place``."""
        g = -self.gap if narrow else self.gap
        (xlo, xhi), (ylo, yhi) = o.span['cx'], o.span['cy']
        if narrow:  # the whole range must be inside
            xlo, xhi, ylo, yhi = xhi, xlo, yhi, ylo
        inside = dict(
            left=xlo < 1 / 3 + g,
            right=xhi > 2 / 3 - g,
            top=ylo < 1 / 3 + g,
            bottom=yhi > 2 / 3 - g,
            centre=(xlo < 2 / 3 + g and xhi > 1 / 3 - g
                    and ylo < 2 / 3 + g and yhi > 1 / 3 - g))
        return inside[place]

    def could(self, r: Reading, o: _Object, peers: List[_Object]) -> bool:
        """Whether reading r could denote object o (one of ``peers``)."""
        others = [p for p in peers if p is not o]
        if r.kind == 'the':
            return True
        if r.kind == 'edge':
            m = _EDGE_SIDE[r.where]
            if r.where in ('left', 'top'):
                return not any(self._before(p, o, m) for p in others)
            return not any(self._before(o, p, m) for p in others)
        if r.kind == 'largest':
            return not any(self._larger(p, o) for p in others)
        if r.kind == 'smallest':
            return not any(self._larger(o, p) for p in others)
        if r.kind == 'ordinal':
            low, high = self._ranks(o, peers, 'cx' if r.where == 'left'
                                    else 'cy')
            return low <= r.k <= high
        return self._place(o, r.where, narrow=False)

    def certainly(self, r: Reading, o: _Object,
                  peers: List[_Object]) -> bool:
        """Whether box o certainly satisfies reading r."""
        others = [p for p in peers if p is not o]
        if r.kind == 'the':
            return not others
        if r.kind == 'edge':
            m = _EDGE_SIDE[r.where]
            if r.where in ('left', 'top'):
                return all(self._before(o, p, m) for p in others)
            return all(self._before(p, o, m) for p in others)
        if r.kind == 'largest':
            return all(self._larger(o, p) for p in others)
        if r.kind == 'smallest':
            return all(self._larger(p, o) for p in others)
        if r.kind == 'ordinal':
            low, high = self._ranks(o, peers, 'cx' if r.where == 'left'
                                    else 'cy')
            return low == high == r.k
        return self._place(o, r.where, narrow=True)

    @staticmethod
    def presupposed(r: Reading, peers: List[_Object]) -> bool:
        """Whether the image has as many objects as the wording assumes."""
        n = len(peers)
        if r.kind == 'the':
            return n == 1
        if r.kind in ('edge', 'largest', 'smallest'):
            return n >= 2
        if r.kind == 'ordinal':
            return n >= 3
        return n >= 1


def denotable(reading: Reading, objects: List[_Object], gap: float,
              ratio: float) -> List[_Object]:
    """Every object of an image a reading could denote."""
    peers = [o for o in objects if o.noun == reading.noun]
    reader = _Reader(objects, gap, ratio)
    return [o for o in peers if reader.could(reading, o, peers)]


def judge(reading: Reading, target_id: object, objects: List[_Object],
          gap: float, ratio: float, image: object = None) -> Optional[str]:
    """Why a reading does not denote exactly the target box, or None."""
    peers = [o for o in objects if o.noun == reading.noun]
    if not peers:
        return f'matches no box (image {image!r} has no {reading.noun!r})'
    reader = _Reader(objects, gap, ratio)
    hits = [o for o in peers if reader.could(reading, o, peers)]
    if len(hits) != 1 or hits[0].crowd:
        named = ', '.join(('crowd region ' if o.crowd else 'box ') +
                          str(o.ann_id) for o in hits)
        return (f'does not single out one box of image {image!r} (could '
                f'be: {named or "none"})')
    if not reader.presupposed(reading, peers):
        return (f'assumes another number of {reading.noun!r} than image '
                f'{image!r} has ({len(peers)})')
    if hits[0].ann_id != target_id:
        return (f'refers to box {hits[0].ann_id} but the record gives '
                f'{target_id!r}')
    if not reader.certainly(reading, hits[0], peers):
        return f'box {target_id!r} only possibly fits it'
    return None


def image_objects(source: dict) -> Tuple[Dict, Dict[object, List[_Object]]]:
    """The class prompts and the objects of every image of an MMIOC file.

    Args:
        source (dict): The MMIOC split (parsed).

    Returns:
        tuple: ``(nouns, objects)``: category id -> class prompt, and image
        id -> its objects (every usable box and crowd region).
    """
    nouns = {}
    for cat in source['categories']:
        texts = cat.get('texts') or [cat.get('name', '')]
        nouns[cat['id']] = str(texts[0]).strip()
    images = {}
    for img in source['images']:
        w, h = img.get('width'), img.get('height')
        if isinstance(w, (int, float)) and isinstance(h, (int, float)) \
                and w > 0 and h > 0:
            images[img['id']] = (float(w), float(h))
    objects: Dict[object, List[_Object]] = defaultdict(list)
    for ann in source['annotations']:
        size = images.get(ann.get('image_id'))
        if size is None or not _usable(ann, nouns):
            continue
        crowd = bool(ann.get('iscrowd', 0))
        objects[ann['image_id']].append(
            _Object(ann.get('id'), nouns[ann['category_id']], crowd,
                    _spans(ann['bbox'], crowd, *size)))
    return nouns, objects


def check_grounding(grounding: dict,
                    source: dict,
                    name: str = '<grounding>',
                    min_gap: Optional[float] = None,
                    size_ratio: Optional[float] = None) -> List[str]:
    """Check every expression of a grounding file against its source split.

    Args:
        grounding (dict): MDETR-style grounding dict.
        source (dict): The MMIOC split it was made from.
        name (str): The grounding file's name, for the messages.
        min_gap (float, optional): Positional tolerance; defaults to the
            file's ``info.grounding_rules`` (else 0.05).
        size_ratio (float, optional): Size tolerance; the same default
            (else 1.5).

    Returns:
        list[str]: One line per bad expression (empty: all good).
    """
    made_with = dict(DEFAULT_TOLERANCES)
    made_with.update((grounding.get('info') or {}).get('grounding_rules')
                     or {})
    gap = made_with['min_gap'] if min_gap is None else min_gap
    ratio = made_with['size_ratio'] if size_ratio is None else size_ratio
    nouns, objects = image_objects(source)
    lexicon = sorted(set(nouns.values()))
    anns_of: Dict = defaultdict(list)
    for ann in grounding['annotations']:
        anns_of[ann.get('image_id')].append(ann)
    problems = []
    for rec in grounding['images']:
        caption = str(rec.get('caption', ''))
        where = f'{name}: expression {rec.get("id")!r} {caption!r}'
        targets = anns_of.get(rec.get('id'), [])
        img_id = rec.get('original_img_id')
        readings = read_caption(caption, lexicon)
        if len(targets) != 1:
            why = f'has {len(targets)} referent boxes, needs exactly 1'
        elif not readings:
            why = (f'{caption!r} follows no expression template or names '
                   'no class of this file')
        elif len(readings) > 1:
            why = f'reads in {len(readings)} ways'
        else:
            why = judge(readings[0], targets[0].get('original_id'),
                        objects.get(img_id, []), gap, ratio, img_id)
        if why is not None:
            problems.append(f'{where}: {why}')
    return problems
