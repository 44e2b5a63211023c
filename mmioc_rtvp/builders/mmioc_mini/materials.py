# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""MMIOC-mini's materials, textures and fixed class table."""
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, List, Tuple

import cv2
import numpy as np


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
