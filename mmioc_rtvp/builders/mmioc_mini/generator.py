# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""MMIOC-mini: a small synthetic dataset in the MMIOC format.

Procedural defects (scratches, holes, stains, cracks, spots, missing parts)
are drawn on real photographs bundled with scikit-image (``skimage.data``):
``coins`` (metal), ``page`` and ``text`` (paper), the wooden table of
``coffee`` (wood), ``brick`` (brick), ``gravel`` (gravel) and ``moon`` (rock).
Every image carries the defects of exactly one class (1-4 instances), or none
at all (about 5 % defect-free images). Boxes are the tight bounds of the drawn
defect masks.

Two difficulty knobs act on every defect: ``contrast`` multiplies each
material's ``defect_gain`` (capped at 1.0) and ``defect_scale`` multiplies the
linear size of every defect shape (lengths, radii, stroke widths, blurs).
Version 1.2.0 defaults to :data:`DEFAULT_CONTRAST` and
:data:`DEFAULT_DEFECT_SCALE`, so that a small detector trained from scratch on
2 CPU cores learns the closed split; ``contrast=1, defect_scale=1`` reproduces
the 1.1.0 dataset exactly (same pixels, same boxes), whose tiny low-contrast
defects no model learned in that budget.

The dataset is deterministic: one seed fixes the plan (class, size and
instance count of every image), every image's pixels and the splits. It is the
embedded default of the demo and of the tests; see
``tools/misc/make_mmioc_mini.py`` for the command line and
``docs/dataset_format.md`` for the format.

Public entry points:

- :func:`mmioc_mini_classes`: the fixed class table (hierarchy, texts, seen).
- :func:`render_image`: one image with its defect masks and the clean texture
  (what the tests check boxes against).
- :func:`plan_mmioc_mini` / :func:`render_planned_image`: what the generator
  draws for image ``index`` of a seed.
- :func:`generate_mmioc_mini`: write the dataset (skips when up to date).
"""
import json
import os
import os.path as osp
import shutil
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

GENERATOR_VERSION = '1.2.0'
# Difficulty of the default dataset (1.0 and 1.0: the 1.1.0 dataset). With
# 2.0 and 2.0 YOLOv8-S-mini, trained from scratch with the 40-epoch CPU
# schedule, reaches closed-set AP50 0.26 (docs/get_started.md, Measured).
DEFAULT_CONTRAST = 2.0
DEFAULT_DEFECT_SCALE = 2.0
# Accepted ranges of the difficulty knobs (inclusive).
CONTRAST_RANGE = (0.1, 10.0)
DEFECT_SCALE_RANGE = (0.5, 4.0)
JPEG_QUALITY = 90
DEFECT_FREE_FRACTION = 0.05
# Probabilities of 1, 2, 3 and 4 defect instances in an image.
INSTANCE_PROBS = (0.4, 0.3, 0.2, 0.1)
# Shapes are rasterised on a grid this many times finer, then area-averaged:
# anti-aliased strokes thinner than a pixel.
SUPERSAMPLE = 4
# Alpha below this is dropped, so that the mask (alpha > 0) is exactly the set
# of pixels the defect changes and the box is tight.
ALPHA_MIN = 0.1
# Free margin (pixels) kept between the boxes of two instances.
BOX_MARGIN = 3
# Seed-sequence spawn keys of the three random streams.
_PLAN_KEY, _IMAGE_KEY, _SPLIT_KEY = 0, 1, 2

SPLIT_NAMES = ('closed_train', 'closed_val', 'open_train', 'open_val',
               'open_val_seen', 'open_val_generalized')
TEXT_FILES = {
    'closed': 'closed_class_texts.json',
    'seen': 'seen_class_texts.json',
    'unseen': 'unseen_class_texts.json',
    'generalized': 'generalized_class_texts.json',
}
# Which vocabulary (class-text file) goes with which annotation file.
SPLIT_VOCABULARY = {
    'closed_train': 'closed',
    'closed_val': 'closed',
    'open_train': 'seen',
    'open_val': 'unseen',
    'open_val_seen': 'seen',
    'open_val_generalized': 'generalized',
}


@dataclass(frozen=True)
class MaterialSpec:
    """A material: the texture it is drawn on and its place in the hierarchy.

    Args:
        scene (str): Scene name (``images/<scene_slug>/`` holds its images).
        supercategory (str): Supercategory of every class on this material.
        sources (tuple[str]): ``skimage.data`` images the texture is cut from.
        phrase (str): Noun phrase used in the paraphrased prompts.
        defect_gain (float): Scales every defect's change of the pixels, so
            that defects stand out about as much from smooth textures (rock)
            as from busy ones (gravel). The generator's ``contrast``
            multiplies it (the product is capped at 1.0).
        tints (tuple): RGB gains applied to grey sources (one is drawn per
            image); empty for colour sources, which keep their colours.
    """
    scene: str
    supercategory: str
    sources: Tuple[str, ...]
    phrase: str
    defect_gain: float
    tints: Tuple[Tuple[float, float, float], ...] = ()


MATERIALS: Dict[str, MaterialSpec] = dict(
    metal=MaterialSpec(
        scene='metal coins',
        supercategory='metal',
        sources=('coins', ),
        phrase='a metal coin',
        defect_gain=1.0,
        tints=((0.93, 0.95, 1.0), (1.0, 0.86, 0.62), (0.98, 0.76, 0.58))),
    paper=MaterialSpec(
        scene='printed paper',
        supercategory='paper',
        sources=('page', 'text'),
        phrase='a printed sheet of paper',
        defect_gain=0.55,
        tints=((1.0, 0.98, 0.92), (1.0, 1.0, 1.0), (0.96, 0.95, 0.9))),
    wood=MaterialSpec(
        scene='wooden table',
        supercategory='wood',
        sources=('coffee', ),
        phrase='a wooden table top',
        defect_gain=0.6),
    brick=MaterialSpec(
        scene='brick wall',
        supercategory='construction',
        sources=('brick', ),
        phrase='a brick wall',
        defect_gain=0.9,
        tints=((1.0, 0.7, 0.58), (0.95, 0.78, 0.68), (0.86, 0.62, 0.52))),
    gravel=MaterialSpec(
        scene='gravel road',
        supercategory='construction',
        sources=('gravel', ),
        phrase='a gravel road',
        defect_gain=1.0,
        tints=((0.95, 0.95, 0.95), (1.0, 0.96, 0.9))),
    rock=MaterialSpec(
        scene='rock surface',
        supercategory='stone',
        sources=('moon', ),
        phrase='a bare rock surface',
        defect_gain=0.3,
        tints=((1.0, 0.98, 0.95), (0.92, 0.92, 0.94))),
)

# Defect type -> (preposition of the class name, two paraphrase templates).
DEFECTS: Dict[str, Tuple[str, Tuple[str, str]]] = {
    'scratch': ('on', ('{phrase} with a scratch',
                       'a thin scratch mark across the {material}')),
    'hole': ('in', ('{phrase} with a hole',
                    'a small round hole through the {material}')),
    'stain': ('on', ('{phrase} with a stain',
                     'a discoloured patch on the {material} surface')),
    'crack': ('in', ('{phrase} with a crack',
                     'a jagged fissure running through the {material}')),
    'spot': ('on', ('{phrase} with a small spot',
                    'a tiny dot-like blemish on the {material}')),
    'missing part': ('in', ('{phrase} with a piece missing',
                            'a chipped-off region of the {material}')),
}

# (id, defect, material, seen). Every unseen class recombines a defect type
# and a material that both occur in seen classes; the six unseen classes
# cover all six defect types.
_CLASS_TABLE: Tuple[Tuple[int, str, str, bool], ...] = (
    (1, 'scratch', 'metal', True),
    (2, 'spot', 'metal', True),
    (3, 'missing part', 'metal', False),
    (4, 'hole', 'paper', True),
    (5, 'stain', 'paper', True),
    (6, 'spot', 'paper', False),
    (7, 'stain', 'wood', True),
    (8, 'scratch', 'wood', True),
    (9, 'hole', 'wood', False),
    (10, 'crack', 'wood', False),
    (11, 'crack', 'brick', True),
    (12, 'missing part', 'brick', True),
    (13, 'stain', 'brick', False),
    (14, 'hole', 'gravel', True),
    (15, 'stain', 'gravel', True),
    (16, 'crack', 'rock', True),
    (17, 'spot', 'rock', True),
    (18, 'scratch', 'rock', False),
)


@dataclass(frozen=True)
class MiniClass:
    """One MMIOC-mini class ("<defect> on/in <material>").

    Args:
        id (int): Category id (the same in every file).
        name (str): Canonical name, e.g. ``'scratch on metal'``.
        defect (str): Defect type, a key of :data:`DEFECTS`.
        material (str): Material, a key of :data:`MATERIALS`.
        supercategory (str): Supercategory (from the material).
        scene (str): Scene (from the material).
        texts (tuple[str]): Three prompts, the first is ``name``.
        seen (bool): Whether the class is seen in the open split.
    """
    id: int
    name: str
    defect: str
    material: str
    supercategory: str
    scene: str
    texts: Tuple[str, ...]
    seen: bool

    def to_category(self) -> dict:
        """The COCO category record with its MMIOC hierarchy fields."""
        return dict(
            id=self.id,
            name=self.name,
            supercategory=self.supercategory,
            scene=self.scene,
            texts=list(self.texts))


def mmioc_mini_classes() -> List[MiniClass]:
    """The fixed MMIOC-mini class table, sorted by id.

    Returns:
        list[MiniClass]: 18 classes (12 seen, 6 unseen) over 6 defect types,
        6 materials, 6 scenes and 5 supercategories.
    """
    classes = []
    for cls_id, defect, material, seen in _CLASS_TABLE:
        preposition, paraphrases = DEFECTS[defect]
        spec = MATERIALS[material]
        name = f'{defect} {preposition} {material}'
        texts = (name, ) + tuple(
            t.format(phrase=spec.phrase, material=material)
            for t in paraphrases)
        classes.append(
            MiniClass(cls_id, name, defect, material, spec.supercategory,
                      spec.scene, texts, seen))
    return classes


def scene_slug(scene: str) -> str:
    """Directory name of a scene: ``'brick wall'`` -> ``'brick_wall'``."""
    return scene.replace(' ', '_')


# ---------------------------------------------------------------------------
# Textures
# ---------------------------------------------------------------------------
@lru_cache(maxsize=None)
def _texture_source(name: str) -> np.ndarray:
    """A ``skimage.data`` image as float32 ``(H, W)`` grey or ``(H, W, 3)``.

    ``coffee`` is reduced to the wood-only strip right of the saucer
    (120 x 400); three windows of it, flipped differently, are laid side by
    side as planks (a 360 x 340 table top).
    """
    from skimage import data
    if name == 'coffee':
        strip = data.coffee()[:, 480:600]
        img = np.concatenate(
            [strip[0:340], strip[60:400, ::-1], strip[30:370][::-1]], axis=1)
    else:
        img = getattr(data, name)()
    if img.dtype != np.uint8 or img.ndim not in (2, 3):
        raise ValueError(f'skimage.data.{name}: expected a uint8 grey or RGB '
                         f'image, got {img.dtype} {img.shape}')
    img = np.ascontiguousarray(img, dtype=np.float32)
    img.setflags(write=False)
    return img


def sample_texture(rng: np.random.Generator, material: str, height: int,
                   width: int) -> np.ndarray:
    """Cut an augmented texture patch of a material.

    A window of a random source image is rotated (any multiple of 90 degrees
    plus up to +-12 degrees), zoomed, maybe flipped, then its contrast,
    brightness and tint are jittered and sensor noise is added.

    Args:
        rng (np.random.Generator): Random stream.
        material (str): A key of :data:`MATERIALS`.
        height (int): Output height.
        width (int): Output width.

    Returns:
        np.ndarray: ``(height, width, 3)`` float32 RGB in ``[0, 255]``.
    """
    spec = MATERIALS[material]
    src = _texture_source(spec.sources[rng.integers(len(spec.sources))])
    src_h, src_w = src.shape[:2]
    angle = np.deg2rad(rng.integers(4) * 90 + rng.uniform(-12, 12))
    cos, sin = np.cos(angle), np.sin(angle)
    # Source extent (at scale 1) covered by the rotated output window.
    need_w = width * abs(cos) + height * abs(sin)
    need_h = width * abs(sin) + height * abs(cos)
    min_scale = max(need_w / (src_w - 1), need_h / (src_h - 1))
    scale = max(rng.uniform(0.75, 1.3), min_scale * rng.uniform(1.0, 1.2))
    half_w, half_h = need_w / (2 * scale), need_h / (2 * scale)
    cx = rng.uniform(half_w, src_w - 1 - half_w)
    cy = rng.uniform(half_h, src_h - 1 - half_h)
    ux, uy = (width - 1) / 2, (height - 1) / 2
    # Output pixel (u, v) samples source C + R(angle) ((u, v) - U) / scale.
    mat = np.array([[cos, -sin, cx * scale - cos * ux + sin * uy],
                    [sin, cos, cy * scale - sin * ux - cos * uy]]) / scale
    tex = cv2.warpAffine(
        src,
        mat, (width, height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT_101)
    if rng.random() < 0.5:
        tex = tex[:, ::-1]
    contrast = rng.uniform(0.6, 1.1)
    brightness = rng.uniform(-20, 20)
    mean = float(tex.mean())
    tex = (tex - mean) * contrast + mean + brightness
    if tex.ndim == 2:
        tint = np.asarray(spec.tints[rng.integers(len(spec.tints))])
        gains = tint + rng.normal(0, 0.03, 3)
        tex = tex[..., None] * gains.astype(np.float32)
    else:
        tex = tex * rng.uniform(0.9, 1.1, 3).astype(np.float32)
    tex = tex + rng.normal(0, rng.uniform(1.0, 3.0), tex.shape)
    return np.clip(tex, 0, 255).astype(np.float32)


# ---------------------------------------------------------------------------
# Defect shapes
# ---------------------------------------------------------------------------
ShadeFn = Callable[[np.ndarray, Dict[str, np.ndarray]], np.ndarray]


@dataclass
class DefectStamp:
    """A drawn defect before it is placed in an image.

    The defect changes a patch ``P`` of shape ``(h, w, 3)`` into
    ``P + g * alpha * (shade(P, fields) - P)``, ``g`` the material's
    ``defect_gain`` times the generator's ``contrast`` (at most 1); pixels
    with ``alpha == 0`` are left untouched, so ``alpha > 0`` is the defect
    mask.

    Args:
        alpha (np.ndarray): ``(h, w)`` float32 coverage in ``{0} U
            [ALPHA_MIN, 1]``.
        shade (callable): ``shade(P, fields) -> Q`` the defect's appearance
            ``(h, w, 3)`` given the clean patch.
        fields (dict[str, np.ndarray]): ``(h, w)`` maps ``shade`` reads;
            cropped together with ``alpha``.
    """
    alpha: np.ndarray
    shade: ShadeFn
    fields: Dict[str, np.ndarray] = field(default_factory=dict)

    def cropped(self) -> 'DefectStamp':
        """The stamp cut to the bounds of its mask (so the box is tight)."""
        alpha = np.where(self.alpha >= ALPHA_MIN, self.alpha, 0)
        rows = np.flatnonzero(alpha.any(axis=1))
        cols = np.flatnonzero(alpha.any(axis=0))
        if rows.size == 0:
            return DefectStamp(alpha[:0, :0], self.shade, {})
        sl = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        return DefectStamp(
            np.ascontiguousarray(alpha[sl], dtype=np.float32), self.shade, {
                k: v[sl]
                for k, v in self.fields.items()
            })


def _rasterise(size: Tuple[int, int], draw: Callable[[np.ndarray],
                                                     None]) -> np.ndarray:
    """Anti-aliased coverage of a shape drawn on a supersampled canvas.

    Args:
        size (tuple[int, int]): Patch ``(h, w)``.
        draw (callable): Draws on a ``(h * S, w * S)`` uint8 canvas with value
            255, in canvas coordinates (see :func:`_to_canvas`).

    Returns:
        np.ndarray: ``(h, w)`` float32 coverage in ``[0, 1]``.
    """
    h, w = size
    canvas = np.zeros((h * SUPERSAMPLE, w * SUPERSAMPLE), np.uint8)
    draw(canvas)
    cov = cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA)
    return cov.astype(np.float32) / 255


def _to_canvas(points: np.ndarray) -> np.ndarray:
    """Patch coordinates (pixel centres at integers) to canvas int points."""
    pts = (np.asarray(points) + 0.5) * SUPERSAMPLE - 0.5
    return np.round(pts).astype(np.int32)


def _patch_size(points: np.ndarray, pad: float) -> Tuple[np.ndarray, int, int]:
    """Shift points into a patch with ``pad`` pixels around them."""
    lo = points.min(axis=0) - pad
    hi = points.max(axis=0) + pad
    w = int(np.ceil(hi[0] - lo[0])) + 1
    h = int(np.ceil(hi[1] - lo[1])) + 1
    return points - lo, h, w


def _darken_or_lighten(rng: np.random.Generator, strength: float,
                       p_light: float) -> ShadeFn:
    """A shade that darkens (``P (1 - s)``) or lightens towards white."""
    if rng.random() < p_light:
        return lambda p, f: p + (255 - p) * strength
    return lambda p, f: p * (1 - strength)


def _margin(pixels: int, scale: float) -> int:
    """A free margin of ``pixels`` around a shape, grown with ``scale > 1``
    (never shrunk: anti-aliasing needs the same pixels at any scale)."""
    return int(np.ceil(pixels * max(scale, 1.0)))


def make_spot(rng: np.random.Generator, scale: float = 1.0) -> DefectStamp:
    """A small round dot (radius 1.2-4.5 px times ``scale``), mostly darker,
    low contrast.

    Args:
        rng (np.random.Generator): Random stream.
        scale (float): Linear size factor (radius and blur).
    """
    radius = rng.uniform(1.2, 4.5) * scale
    pad = int(np.ceil(radius)) + _margin(2, scale)
    yy, xx = np.mgrid[-pad:pad + 1, -pad:pad + 1].astype(np.float32)
    off = rng.uniform(-0.5, 0.5, 2)
    dist = np.hypot(xx - off[0], yy - off[1])
    alpha = np.clip(radius + 0.5 - dist, 0, 1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), rng.uniform(0.4, 0.9) * scale)
    shade = _darken_or_lighten(rng, rng.uniform(0.18, 0.4), p_light=0.25)
    return DefectStamp(alpha, shade)


def make_hole(rng: np.random.Generator, scale: float = 1.0) -> DefectStamp:
    """A dark ellipse (semi-axes 2.5-11 px times ``scale``) with a brighter
    raised rim.

    Args:
        rng (np.random.Generator): Random stream.
        scale (float): Linear size factor (axes and rim).
    """
    a = rng.uniform(2.5, 11.0) * scale
    b = a * rng.uniform(0.55, 1.0)
    rim = rng.uniform(0.8, 2.2) * scale
    theta = rng.uniform(0, np.pi)
    pad = int(np.ceil(a + rim)) + 2
    yy, xx = np.mgrid[-pad:pad + 1, -pad:pad + 1].astype(np.float32)
    u = xx * np.cos(theta) + yy * np.sin(theta)
    v = -xx * np.sin(theta) + yy * np.cos(theta)
    rho = np.hypot(u, v)
    d = np.sqrt((u / a)**2 + (v / b)**2)
    # Approximate signed distance (px) to the ellipse, negative inside.
    sd = rho * (1 - 1 / np.maximum(d, 1e-6))
    inside = np.clip(0.5 - sd, 0, 1)
    ring = np.clip(np.minimum(sd + 0.5, rim + 0.5 - sd), 0, 1) * (sd > -0.5)
    depth = rng.uniform(0.3, 0.6)
    lift = rng.uniform(0.06, 0.18)
    # The far wall of the hole is lit, the near one is in shadow.
    slope = 0.8 + 0.2 * np.clip(u / a, -1, 1)
    gain = 1 - depth * inside * slope + lift * ring

    def shade(p: np.ndarray, f: Dict[str, np.ndarray]) -> np.ndarray:
        return p * f['gain'][..., None]

    alpha = np.clip(inside + ring, 0, 1).astype(np.float32)
    return DefectStamp(alpha, shade, {'gain': gain.astype(np.float32)})


_STAIN_COLOURS = np.array(
    [
        (0.78, 0.62, 0.45),  # brown
        (0.86, 0.55, 0.35),  # rust
        (0.68, 0.68, 0.72),  # grey / oil
        (0.96, 0.88, 0.58),  # yellowish
        (0.62, 0.7, 0.6),  # greenish (mould)
    ],
    np.float32)


def make_stain(rng: np.random.Generator, scale: float = 1.0) -> DefectStamp:
    """A blurred irregular blob (5-22 px radius times ``scale``) with a
    colour cast.

    Args:
        rng (np.random.Generator): Random stream.
        scale (float): Linear size factor (radius and blur).
    """
    radius = rng.uniform(5.0, 22.0) * scale
    pad = int(np.ceil(1.7 * radius)) + _margin(8, scale)
    yy, xx = np.mgrid[-pad:pad + 1, -pad:pad + 1].astype(np.float32)
    blob = np.zeros_like(xx)
    for _ in range(rng.integers(3, 7)):
        cx, cy = rng.uniform(-0.6, 0.6, 2) * radius
        sigma = rng.uniform(0.35, 0.7) * radius
        blob += rng.uniform(0.5, 1.0) * np.exp(-((xx - cx)**2 + (yy - cy)**2) /
                                               (2 * sigma**2))
    blob /= blob.max()
    shape = (blob > rng.uniform(0.35, 0.55)).astype(np.float32)
    alpha = cv2.GaussianBlur(shape, (0, 0), rng.uniform(1.0, 2.5) * scale)
    # Drop the faintest fringe of the blur so the box hugs the visible stain.
    alpha = np.clip((alpha - 0.15) / 0.85, 0, 1)
    colour = _STAIN_COLOURS[rng.integers(len(_STAIN_COLOURS))]
    strength = rng.uniform(0.4, 0.8)
    gains = (1 - strength + strength * colour).astype(np.float32)
    return DefectStamp(alpha, lambda p, f: p * gains)


def make_scratch(rng: np.random.Generator,
                 scale: float = 1.0) -> DefectStamp:
    """A thin (0.7-1.8 px) long (16-80 px) curved line fading at its ends
    (width and length times ``scale``).

    Args:
        rng (np.random.Generator): Random stream.
        scale (float): Linear size factor (length, width and bend).
    """
    length = rng.uniform(16.0, 80.0) * scale
    width = rng.uniform(0.7, 1.8) * scale
    bend = rng.uniform(-0.25, 0.25) * length
    theta = rng.uniform(0, np.pi)
    t = np.linspace(0, 1, max(int(length / 2), 8))[:, None]
    p0, p1, p2 = (np.array([-length / 2,
                            0]), np.array([0, bend]), np.array([length / 2,
                                                                0]))
    curve = (1 - t)**2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2
    rot = np.array([[np.cos(theta), -np.sin(theta)],
                    [np.sin(theta), np.cos(theta)]])
    pts, h, w = _patch_size(curve @ rot.T, pad=_margin(3, scale))
    cpts = _to_canvas(pts)
    # Intensity along the scratch: faint at both ends.
    level = np.sin(np.pi * (t[:-1, 0] + t[1:, 0]) / 2)**0.5
    thickness = max(1, int(round(width * SUPERSAMPLE)))

    def draw(canvas: np.ndarray) -> None:
        for i in range(len(cpts) - 1):
            value = int(round(255 * level[i]))
            cv2.line(canvas, tuple(map(int, cpts[i])),
                     tuple(map(int, cpts[i + 1])), value, thickness,
                     cv2.LINE_AA)

    alpha = _rasterise((h, w), draw)
    shade = _darken_or_lighten(rng, rng.uniform(0.2, 0.45), p_light=0.6)
    return DefectStamp(alpha, shade)


def _jagged_walk(rng: np.random.Generator,
                 start: np.ndarray,
                 heading: float,
                 length: float,
                 scale: float = 1.0) -> np.ndarray:
    """A polyline of 1.5-3.5 px steps (times ``scale``) whose direction
    jitters around ``heading``."""
    pts = [start]
    travelled, direction = 0.0, heading
    while travelled < length:
        direction = heading + np.clip(
            direction - heading + rng.normal(0, 0.45), -0.9, 0.9)
        step = rng.uniform(1.5, 3.5) * scale
        pts.append(
            pts[-1] + step *
            np.array([np.cos(direction), np.sin(direction)]))
        travelled += step
    return np.asarray(pts)


def make_crack(rng: np.random.Generator, scale: float = 1.0) -> DefectStamp:
    """A jagged polyline (18-75 px) with 1-3 thinner branches, darker
    (lengths, steps and widths times ``scale``).

    Args:
        rng (np.random.Generator): Random stream.
        scale (float): Linear size factor.
    """
    length = rng.uniform(18.0, 75.0) * scale
    heading = rng.uniform(0, 2 * np.pi)
    trunk = _jagged_walk(rng, np.zeros(2), heading, length, scale)
    width0 = rng.uniform(1.0, 2.2) * scale
    paths = [(trunk, width0)]
    for _ in range(rng.integers(1, 4)):
        root = trunk[rng.integers(
            len(trunk) // 5, max(len(trunk) * 4 // 5,
                                 len(trunk) // 5 + 1))]
        turn = rng.choice([-1, 1]) * rng.uniform(0.5, 1.1)
        paths.append(
            (_jagged_walk(rng, root, heading + turn,
                          rng.uniform(0.25, 0.55) * length,
                          scale), width0 * 0.7))
    allpts, h, w = _patch_size(
        np.concatenate([p for p, _ in paths]), pad=_margin(3, scale))
    shift = allpts[0] - paths[0][0][0]

    def draw(canvas: np.ndarray) -> None:
        for path, width in paths:
            cpts = _to_canvas(path + shift)
            n = len(cpts) - 1
            for i in range(n):
                taper = 1 - 0.6 * i / max(n, 1)
                thickness = max(1, int(round(width * taper * SUPERSAMPLE)))
                cv2.line(canvas, tuple(map(int, cpts[i])),
                         tuple(map(int, cpts[i + 1])), 255, thickness,
                         cv2.LINE_AA)

    alpha = _rasterise((h, w), draw)
    strength = rng.uniform(0.25, 0.5)
    return DefectStamp(alpha, lambda p, f: p * (1 - strength))


def make_missing_part(rng: np.random.Generator,
                      scale: float = 1.0) -> DefectStamp:
    """A polygon (5-9 vertices, radius 5-19 px times ``scale``) of flat
    background colour.

    The colour is the local mean of the texture, darker or lighter, plus
    sensor noise; the texture inside the polygon is gone.

    Args:
        rng (np.random.Generator): Random stream.
        scale (float): Linear size factor (radius).
    """
    radius = rng.uniform(5.0, 19.0) * scale
    n = int(rng.integers(5, 10))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = radius * rng.uniform(0.55, 1.0, n)
    poly = np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
    pts, h, w = _patch_size(poly, pad=_margin(2, scale))
    cpts = _to_canvas(pts)

    def draw(canvas: np.ndarray) -> None:
        cv2.fillPoly(canvas, [cpts], 255, cv2.LINE_AA)

    alpha = _rasterise((h, w), draw)
    if rng.random() < 0.6:
        gain = rng.uniform(0.55, 0.8)
    else:
        gain = rng.uniform(1.15, 1.35)
    noise_sigma = rng.uniform(1.0, 2.5)
    noise_seed = int(rng.integers(2**31))

    def shade(p: np.ndarray, f: Dict[str, np.ndarray]) -> np.ndarray:
        flat = np.clip(p.reshape(-1, 3).mean(axis=0) * gain, 0, 255)
        noise = np.random.default_rng(noise_seed).normal(
            0, noise_sigma, p.shape)
        return (flat + noise).astype(np.float32)

    return DefectStamp(alpha, shade)


# Defect type -> maker(rng, scale).
DEFECT_MAKERS: Dict[str, Callable[[np.random.Generator, float],
                                  DefectStamp]] = {
    'scratch': make_scratch,
    'hole': make_hole,
    'stain': make_stain,
    'crack': make_crack,
    'spot': make_spot,
    'missing part': make_missing_part,
}


# ---------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------
@dataclass
class RenderedImage:
    """An image with defects, its clean texture and the defect masks.

    Args:
        image (np.ndarray): ``(H, W, 3)`` uint8 RGB with the defects.
        clean (np.ndarray): ``(H, W, 3)`` uint8 RGB, the same texture without
            defects; equal to ``image`` outside the masks.
        masks (list[np.ndarray]): One ``(H, W)`` bool mask per instance.
        bboxes (list[list[float]]): COCO ``[x, y, w, h]`` tight around each
            mask.
    """
    image: np.ndarray
    clean: np.ndarray
    masks: List[np.ndarray]
    bboxes: List[List[float]]


def mask_to_bbox(mask: np.ndarray) -> List[float]:
    """Tight COCO ``[x, y, w, h]`` box of a non-empty ``(H, W)`` mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise ValueError('mask_to_bbox: empty mask')
    return [
        float(cols[0]),
        float(rows[0]),
        float(cols[-1] - cols[0] + 1),
        float(rows[-1] - rows[0] + 1)
    ]


def render_image(rng: np.random.Generator,
                 material: str,
                 defect: Optional[str],
                 height: int,
                 width: int,
                 num_instances: int = 1,
                 max_tries: int = 30,
                 contrast: float = 1.0,
                 defect_scale: float = 1.0) -> RenderedImage:
    """Draw ``num_instances`` defects of one type on a texture.

    Instances never share pixels: each box keeps :data:`BOX_MARGIN` pixels
    free around it. An instance that finds no free place in ``max_tries``
    draws is dropped, but the first one always fits when defects are far
    smaller than the image (any ``defect_scale`` up to 2 on 256 px images).

    The knobs consume no random numbers: ``contrast`` leaves every draw as it
    is (only the pixel change is scaled), and the defaults (1.0, 1.0) give
    the 1.1.0 rendering bit for bit.

    Args:
        rng (np.random.Generator): Random stream.
        material (str): A key of :data:`MATERIALS`.
        defect (str, optional): A key of :data:`DEFECTS`; None for a
            defect-free image.
        height (int): Image height.
        width (int): Image width.
        num_instances (int): Requested number of instances.
        max_tries (int): Placement attempts per instance.
        contrast (float): Multiplies the material's ``defect_gain``; the
            product is capped at 1.0 (see :data:`CONTRAST_RANGE`).
        defect_scale (float): Linear size factor of every defect shape (see
            :data:`DEFECT_SCALE_RANGE`).

    Returns:
        RenderedImage: The image, the clean texture, masks and boxes.
    """
    if material not in MATERIALS:
        raise KeyError(f'render_image: unknown material {material!r}')
    if defect is not None and defect not in DEFECT_MAKERS:
        raise KeyError(f'render_image: unknown defect {defect!r}')
    check_difficulty(contrast, defect_scale)
    clean = sample_texture(rng, material, height, width)
    gain = min(1.0, MATERIALS[material].defect_gain * contrast)
    canvas = clean.copy()
    occupied = np.zeros((height, width), bool)
    masks, bboxes = [], []
    for _ in range(num_instances if defect is not None else 0):
        for _ in range(max_tries):
            stamp = DEFECT_MAKERS[defect](rng, defect_scale).cropped()
            h, w = stamp.alpha.shape
            if h == 0 or h > height or w > width:
                continue
            y0 = int(rng.integers(0, height - h + 1))
            x0 = int(rng.integers(0, width - w + 1))
            ys = slice(max(y0 - BOX_MARGIN, 0), y0 + h + BOX_MARGIN)
            xs = slice(max(x0 - BOX_MARGIN, 0), x0 + w + BOX_MARGIN)
            if occupied[ys, xs].any():
                continue
            sl = (slice(y0, y0 + h), slice(x0, x0 + w))
            patch = canvas[sl]
            alpha = stamp.alpha[..., None]
            target = stamp.shade(patch, stamp.fields)
            inside = stamp.alpha > 0
            blended = patch + gain * alpha * (target - patch)
            patch[inside] = blended[inside]
            occupied[sl] = True
            mask = np.zeros((height, width), bool)
            mask[sl] = inside
            masks.append(mask)
            bboxes.append([float(x0), float(y0), float(w), float(h)])
            break
    to_u8 = lambda x: np.clip(np.round(x), 0, 255).astype(np.uint8)  # noqa
    return RenderedImage(to_u8(canvas), to_u8(clean), masks, bboxes)


@dataclass(frozen=True)
class ImagePlan:
    """What the generator draws for one image.

    Args:
        index (int): Position in the dataset (image id - 1).
        class_id (int, optional): Class of every defect; None if
            defect-free.
        material (str): Material of the texture.
        height (int): Image height.
        width (int): Image width.
        num_instances (int): Requested number of instances (0 if
            defect-free).
    """
    index: int
    class_id: Optional[int]
    material: str
    height: int
    width: int
    num_instances: int

    @property
    def image_id(self) -> int:
        return self.index + 1


def _rng(seed: int, *key: int) -> np.random.Generator:
    """An independent stream of a seed (``SeedSequence`` spawn key)."""
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def check_difficulty(contrast: float, defect_scale: float) -> None:
    """Raise ValueError (one line) on difficulty knobs out of range."""
    for name, value, (lo, hi) in (('contrast', contrast, CONTRAST_RANGE),
                                  ('defect_scale', defect_scale,
                                   DEFECT_SCALE_RANGE)):
        if (isinstance(value, bool)
                or not isinstance(value, (int, float, np.integer,
                                          np.floating))
                or not lo <= float(value) <= hi):
            raise ValueError(f'MMIOC-mini: {name} must be a number in '
                             f'[{lo:g}, {hi:g}], got {value!r}')


def check_params(num_images: int,
                 min_size: int,
                 max_size: int,
                 closed_ratio: float,
                 seed: int,
                 contrast: float = DEFAULT_CONTRAST,
                 defect_scale: float = DEFAULT_DEFECT_SCALE) -> None:
    """Raise ValueError (one line) on bad generator parameters."""
    min_images = 2 * len(_CLASS_TABLE) + 2
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f'MMIOC-mini: seed must be an int >= 0, got {seed!r}')
    if num_images < min_images:
        raise ValueError(f'MMIOC-mini: num_images must be >= {min_images} '
                         f'(2 per class + defect-free), got {num_images}')
    if min_size < 128 or max_size < min_size:
        raise ValueError('MMIOC-mini: need 128 <= min_size <= max_size, got '
                         f'min_size={min_size}, max_size={max_size}')
    if not 0 < closed_ratio < 1:
        raise ValueError('MMIOC-mini: closed_ratio must be in (0, 1), got '
                         f'{closed_ratio}')
    check_difficulty(contrast, defect_scale)


def plan_mmioc_mini(seed: int, num_images: int, min_size: int,
                    max_size: int) -> List[ImagePlan]:
    """Plan every image of a dataset.

    Defect images are spread evenly over the classes (counts differ by at most
    one); :data:`DEFECT_FREE_FRACTION` of the images are defect-free on a
    random material.

    Args:
        seed (int): Dataset seed.
        num_images (int): Number of images.
        min_size (int): Smallest image side.
        max_size (int): Largest image side.

    Returns:
        list[ImagePlan]: One plan per image, in image-id order.
    """
    rng = _rng(seed, _PLAN_KEY)
    classes = {c.id: c for c in mmioc_mini_classes()}
    ids = sorted(classes)
    num_free = max(1, int(np.floor(num_images * DEFECT_FREE_FRACTION + 0.5)))
    num_defect = num_images - num_free
    labels: List[Optional[int]] = []
    while len(labels) < num_defect:
        labels.extend(int(i) for i in rng.permutation(ids))
    labels = labels[:num_defect] + [None] * num_free
    order = rng.permutation(num_images)
    materials = sorted(MATERIALS)
    plans = []
    for index in range(num_images):
        label = labels[order[index]]
        height, width = (
            int(x) for x in rng.integers(min_size, max_size + 1, 2))
        count = int(rng.choice(len(INSTANCE_PROBS), p=INSTANCE_PROBS)) + 1
        if label is None:
            material = materials[rng.integers(len(materials))]
            count = 0
        else:
            material = classes[label].material
        plans.append(ImagePlan(index, label, material, height, width, count))
    return plans


def render_planned_image(
        seed: int,
        plan: ImagePlan,
        contrast: float = DEFAULT_CONTRAST,
        defect_scale: float = DEFAULT_DEFECT_SCALE) -> RenderedImage:
    """Render the image a plan describes (what the generator writes with
    these difficulty knobs; see :func:`render_image`)."""
    classes = {c.id: c for c in mmioc_mini_classes()}
    defect = None if plan.class_id is None else classes[plan.class_id].defect
    return render_image(
        _rng(seed, _IMAGE_KEY, plan.index),
        plan.material,
        defect,
        plan.height,
        plan.width,
        plan.num_instances,
        contrast=contrast,
        defect_scale=defect_scale)


# ---------------------------------------------------------------------------
# Splits and files
# ---------------------------------------------------------------------------
def split_closed(plans: Sequence[ImagePlan], seed: int,
                 ratio: float) -> Tuple[List[int], List[int]]:
    """Per-class stratified image-level train/val split.

    Each class (and the group of defect-free images) puts
    ``floor(ratio * n + 0.5)`` of its ``n`` images in train, clipped to
    ``[1, n - 1]`` when ``n >= 2``.

    Returns:
        tuple[list[int], list[int]]: Sorted train and val image indices.
    """
    rng = _rng(seed, _SPLIT_KEY)
    groups: Dict[int, List[int]] = {}
    for plan in plans:
        groups.setdefault(plan.class_id or 0, []).append(plan.index)
    train, val = [], []
    for key in sorted(groups):
        members = [groups[key][i] for i in rng.permutation(len(groups[key]))]
        n = len(members)
        n_train = int(np.floor(ratio * n + 0.5))
        if n >= 2:
            n_train = min(max(n_train, 1), n - 1)
        train += members[:n_train]
        val += members[n_train:]
    return sorted(train), sorted(val)


def _coco_dict(split: str, seed: int, image_indices: Sequence[int],
               images: List[dict], anns: List[List[dict]],
               categories: List[dict]) -> dict:
    cat_ids = {c['id'] for c in categories}
    out_images, out_anns = [], []
    for index in image_indices:
        for ann in anns[index]:
            if ann['category_id'] not in cat_ids:
                raise RuntimeError(f'MMIOC-mini {split}: image {index + 1} '
                                   'has a category outside the split')
            out_anns.append(ann)
        out_images.append(images[index])
    return dict(
        info=dict(
            description='MMIOC-mini: synthetic defects drawn on '
            'scikit-image sample textures',
            version=GENERATOR_VERSION,
            split=split,
            seed=seed),
        images=out_images,
        annotations=out_anns,
        categories=categories)


def _write_json(path: str, obj) -> None:
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(obj, f, indent=2)
        f.write('\n')


def _params(seed: int, num_images: int, min_size: int, max_size: int,
            closed_ratio: float, contrast: float,
            defect_scale: float) -> dict:
    return dict(
        seed=int(seed),
        num_images=int(num_images),
        min_size=int(min_size),
        max_size=int(max_size),
        closed_ratio=float(closed_ratio),
        contrast=float(contrast),
        defect_scale=float(defect_scale),
        jpeg_quality=JPEG_QUALITY)


def expected_files() -> List[str]:
    """Files (relative to the output dir) every generated dataset has."""
    return (['meta.json'] + [f'annotations/{s}.json' for s in SPLIT_NAMES] +
            [f'texts/{t}' for t in TEXT_FILES.values()])


def is_up_to_date(out_dir: str,
                  seed: int,
                  num_images: int,
                  min_size: int,
                  max_size: int,
                  closed_ratio: float,
                  contrast: float = DEFAULT_CONTRAST,
                  defect_scale: float = DEFAULT_DEFECT_SCALE) -> bool:
    """Whether ``out_dir`` holds a complete dataset made with these
    parameters by this generator version."""
    meta_path = osp.join(out_dir, 'meta.json')
    try:
        with open(meta_path, encoding='utf-8') as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return False
    if (meta.get('generator_version') != GENERATOR_VERSION
            or meta.get('params') != _params(
                seed, num_images, min_size, max_size, closed_ratio, contrast,
                defect_scale)):
        return False
    if not all(osp.isfile(osp.join(out_dir, p)) for p in expected_files()):
        return False
    num_jpg = sum(
        name.endswith('.jpg')
        for _, _, names in os.walk(osp.join(out_dir, 'images'))
        for name in names)
    return num_jpg == num_images


def _write_dataset(out_dir: str, seed: int, plans: Sequence[ImagePlan],
                   closed_ratio: float, params: dict, contrast: float,
                   defect_scale: float, progress: bool) -> dict:
    classes = mmioc_mini_classes()
    by_id = {c.id: c for c in classes}
    os.makedirs(osp.join(out_dir, 'annotations'))
    os.makedirs(osp.join(out_dir, 'texts'))
    for spec in MATERIALS.values():
        os.makedirs(osp.join(out_dir, 'images', scene_slug(spec.scene)))

    iterator = plans
    if progress:
        from tqdm import tqdm
        iterator = tqdm(plans, desc='MMIOC-mini', unit='img', leave=False)
    images, anns, ann_id = [], [], 0
    for plan in iterator:
        rendered = render_planned_image(seed, plan, contrast, defect_scale)
        scene = MATERIALS[plan.material].scene
        file_name = f'{scene_slug(scene)}/{plan.image_id:06d}.jpg'
        ok, buf = cv2.imencode('.jpg',
                               cv2.cvtColor(rendered.image, cv2.COLOR_RGB2BGR),
                               [int(cv2.IMWRITE_JPEG_QUALITY), JPEG_QUALITY])
        if not ok:
            raise RuntimeError(f'MMIOC-mini: JPEG encoding failed for '
                               f'{file_name}')
        with open(osp.join(out_dir, 'images', file_name), 'wb') as f:
            f.write(buf.tobytes())
        images.append(
            dict(
                id=plan.image_id,
                file_name=file_name,
                width=plan.width,
                height=plan.height,
                scene=scene))
        image_anns = []
        for bbox in rendered.bboxes:
            ann_id += 1
            image_anns.append(
                dict(
                    id=ann_id,
                    image_id=plan.image_id,
                    category_id=plan.class_id,
                    bbox=bbox,
                    area=bbox[2] * bbox[3],
                    iscrowd=0))
        anns.append(image_anns)

    closed_train, closed_val = split_closed(plans, seed, closed_ratio)
    seen_ids = {c.id for c in classes if c.seen}
    unseen_ids = {c.id for c in classes if not c.seen}

    def has_seen_or_none(i: int) -> bool:
        return plans[i].class_id is None or plans[i].class_id in seen_ids

    open_train = [i for i in closed_train if has_seen_or_none(i)]
    open_val = [
        i for i in range(len(plans)) if plans[i].class_id in unseen_ids
    ]
    # held-out images of the seen classes: validation of the seen-class
    # (expert) pre-training
    val_seen = [i for i in closed_val if has_seen_or_none(i)]
    generalized = sorted(open_val + val_seen)
    vocab = {
        'closed': [c for c in classes],
        'seen': [c for c in classes if c.seen],
        'unseen': [c for c in classes if not c.seen],
        'generalized': [c for c in classes],
    }
    members = {
        'closed_train': closed_train,
        'closed_val': closed_val,
        'open_train': open_train,
        'open_val': open_val,
        'open_val_seen': val_seen,
        'open_val_generalized': generalized,
    }
    split_meta = {}
    for split in SPLIT_NAMES:
        vocabulary = SPLIT_VOCABULARY[split]
        categories = [c.to_category() for c in vocab[vocabulary]]
        coco = _coco_dict(split, seed, members[split], images, anns,
                          categories)
        _write_json(osp.join(out_dir, 'annotations', f'{split}.json'), coco)
        split_meta[split] = dict(
            annotation_file=f'annotations/{split}.json',
            class_text_file=f'texts/{TEXT_FILES[vocabulary]}',
            categories=len(categories),
            images=len(coco['images']),
            defect_free_images=sum(plans[i].class_id is None
                                   for i in members[split]),
            annotations=len(coco['annotations']))
    for vocabulary, file_name in TEXT_FILES.items():
        _write_json(
            osp.join(out_dir, 'texts', file_name),
            [list(c.texts) for c in vocab[vocabulary]])

    per_class = {c.name: dict(images=0, instances=0) for c in classes}
    for plan, image_anns in zip(plans, anns):
        if plan.class_id is not None:
            per_class[by_id[plan.class_id].name]['images'] += 1
            per_class[by_id[plan.class_id].name]['instances'] += len(
                image_anns)
    meta = dict(
        name='MMIOC-mini',
        generator_version=GENERATOR_VERSION,
        params=params,
        textures={
            m: [f'skimage.data.{s}' for s in spec.sources]
            for m, spec in MATERIALS.items()
        },
        classes=[
            dict(
                id=c.id,
                name=c.name,
                defect=c.defect,
                material=c.material,
                supercategory=c.supercategory,
                scene=c.scene,
                seen=c.seen) for c in classes
        ],
        num_images=len(plans),
        num_defect_free_images=sum(p.class_id is None for p in plans),
        num_instances=sum(len(a) for a in anns),
        per_class=per_class,
        splits=split_meta)
    # Written last: a directory with meta.json is complete.
    _write_json(osp.join(out_dir, 'meta.json'), meta)
    return meta


def generate_mmioc_mini(out_dir: str = 'data/mmioc_mini',
                        seed: int = 0,
                        num_images: int = 480,
                        min_size: int = 256,
                        max_size: int = 320,
                        closed_ratio: float = 0.7,
                        contrast: float = DEFAULT_CONTRAST,
                        defect_scale: float = DEFAULT_DEFECT_SCALE,
                        force: bool = False,
                        progress: bool = False) -> Tuple[dict, bool]:
    """Generate MMIOC-mini into ``out_dir`` unless it is up to date.

    The dataset is written to ``<out_dir>.partial`` and moved into place when
    complete. An existing ``out_dir`` is replaced only if it is an MMIOC-mini
    dataset (has ``meta.json``) or empty; anything else is refused.

    Args:
        out_dir (str): Output directory.
        seed (int): Seed of everything random.
        num_images (int): Number of images.
        min_size (int): Smallest image side (pixels).
        max_size (int): Largest image side (pixels).
        closed_ratio (float): Train share of each class in the closed split.
        contrast (float): Multiplies every material's ``defect_gain`` (the
            product is capped at 1.0). 1.0 with ``defect_scale=1.0``
            reproduces the 1.1.0 dataset.
        defect_scale (float): Linear size factor of every defect shape.
        force (bool): Regenerate even if up to date.
        progress (bool): Show a tqdm progress bar.

    Returns:
        tuple[dict, bool]: The dataset's meta (``meta.json``) and whether it
        was generated (False: an up-to-date copy was kept).
    """
    check_params(num_images, min_size, max_size, closed_ratio, seed,
                 contrast, defect_scale)
    out_dir = osp.normpath(out_dir)
    if not force and is_up_to_date(out_dir, seed, num_images, min_size,
                                   max_size, closed_ratio, contrast,
                                   defect_scale):
        with open(osp.join(out_dir, 'meta.json'), encoding='utf-8') as f:
            return json.load(f), False
    if osp.exists(out_dir) and not (
            osp.isfile(osp.join(out_dir, 'meta.json')) or
        (osp.isdir(out_dir) and not os.listdir(out_dir))):
        raise FileExistsError(
            f'MMIOC-mini: {out_dir} exists and is not an MMIOC-mini dataset '
            '(no meta.json); refusing to overwrite it')
    params = _params(seed, num_images, min_size, max_size, closed_ratio,
                     contrast, defect_scale)
    plans = plan_mmioc_mini(seed, num_images, min_size, max_size)
    tmp_dir = out_dir + '.partial'
    if osp.exists(tmp_dir):
        shutil.rmtree(tmp_dir)
    try:
        meta = _write_dataset(tmp_dir, seed, plans, closed_ratio, params,
                              contrast, defect_scale, progress)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    if osp.exists(out_dir):
        shutil.rmtree(out_dir)
    os.replace(tmp_dir, out_dir)
    return meta, True


def format_summary(meta: dict) -> str:
    """A short human-readable summary of a dataset's ``meta.json``."""
    classes = meta['classes']
    seen = [c['name'] for c in classes if c['seen']]
    unseen = [c['name'] for c in classes if not c['seen']]
    params = meta['params']
    knobs = ''
    if 'contrast' in params:
        knobs = (f", contrast {params['contrast']:g}, defect scale "
                 f"{params['defect_scale']:g}")
    lines = [
        f"MMIOC-mini v{meta['generator_version']} (seed "
        f"{params['seed']}{knobs}): {meta['num_images']} images "
        f"({meta['num_defect_free_images']} defect-free), "
        f"{meta['num_instances']} instances, {len(classes)} classes in "
        f"{len({c['supercategory'] for c in classes})} supercategories / "
        f"{len({c['scene'] for c in classes})} scenes",
        f'  seen ({len(seen)}): ' + ', '.join(seen),
        f'  unseen ({len(unseen)}): ' + ', '.join(unseen),
    ]
    for split, info in meta['splits'].items():
        lines.append(f"  {split:<21} {info['images']:>4} images "
                     f"({info['defect_free_images']} defect-free), "
                     f"{info['annotations']:>4} boxes, "
                     f"{info['categories']} categories")
    return '\n'.join(lines)
