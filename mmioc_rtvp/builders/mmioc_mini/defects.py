# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""MMIOC-mini's procedural defect shapes (one stamp per instance)."""
from dataclasses import dataclass, field
from typing import Callable, Dict, Tuple

import cv2
import numpy as np

# Shapes are rasterised on a grid this many times finer, then area-averaged:
# anti-aliased strokes thinner than a pixel.
SUPERSAMPLE = 4
# Alpha below this is dropped, so that the mask (alpha > 0) is exactly the set
# of pixels the defect changes and the box is tight.
ALPHA_MIN = 0.1


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
