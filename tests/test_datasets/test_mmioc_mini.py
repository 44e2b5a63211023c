# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Tests of MMIOC-mini's difficulty knobs (``contrast``, ``defect_scale``).

The rest of the generator is tested in
``tests/test_tools/test_make_mmioc_mini.py``.
"""
import contextlib
import hashlib
import importlib.util
import io
import json
import os.path as osp

import numpy as np
import pytest

from mmioc_rtvp.builders.mmioc_mini import (
    DEFAULT_CONTRAST, DEFAULT_DEFECT_SCALE, DEFECT_MAKERS, DEFECTS,
    GENERATOR_VERSION, MATERIALS, check_params, generate_mmioc_mini,
    is_up_to_date, mmioc_mini_classes, plan_mmioc_mini, render_image,
    render_planned_image)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO_ROOT, 'tools', 'misc', 'make_mmioc_mini.py')

# Generator 1.1.0 (before the knobs existed), seed 0, 480 images: the first
# planned image of each defect type and the first defect-free one, as
# (index, defect, sha256(image.tobytes())[:16], boxes).
REFERENCE_110 = (
    (0, 'spot', '375cce3fa7192c7c', [[44, 236, 8, 8], [104, 99, 6, 6]]),
    (2, 'crack', '5f0ba6e8f1687895', [[39, 127, 38, 46]]),
    (3, 'scratch', 'c8d24068a6828246', [[89, 65, 22, 16], [87, 14, 67, 41],
                                        [7, 218, 36, 59], [32, 136, 8, 37]]),
    (4, 'hole', '86d16aaba66d07e3', [[292, 134, 15, 21], [75, 51, 21, 21],
                                     [145, 198, 13, 13], [170, 133, 21,
                                                          21]]),
    (7, None, 'ccb287dacc1d0af9', []),
    (9, 'missing part', '6b8915e1051aef20', [[142, 145, 32, 27],
                                             [211, 143, 24, 28],
                                             [84, 93, 15, 18]]),
    (10, 'stain', '0472bb0a0be959e3', [[100, 90, 15, 17], [163, 59, 24,
                                                            27]]),
)


def _digest(image):
    return hashlib.sha256(image.tobytes()).hexdigest()[:16]


def _load_tool():
    spec = importlib.util.spec_from_file_location('make_mmioc_mini', TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_unit_knobs_reproduce_version_110():
    plans = plan_mmioc_mini(0, 480, 256, 320)
    defect_of = {c.id: c.defect for c in mmioc_mini_classes()}
    for index, defect, digest, boxes in REFERENCE_110:
        plan = plans[index]
        assert defect_of.get(plan.class_id) == defect
        r = render_planned_image(0, plan, contrast=1, defect_scale=1)
        assert _digest(r.image) == digest, (index, defect)
        assert r.bboxes == [[float(v) for v in b] for b in boxes]
    # render_image's own defaults are the unit knobs.
    a = render_image(np.random.default_rng(3), 'wood', 'hole', 100, 120, 2)
    b = render_image(
        np.random.default_rng(3),
        'wood',
        'hole',
        100,
        120,
        2,
        contrast=1.0,
        defect_scale=1.0)
    assert np.array_equal(a.image, b.image) and a.bboxes == b.bboxes
    # The 1.2.0 defaults are not the 1.1.0 dataset.
    assert GENERATOR_VERSION == '1.2.0'
    assert (DEFAULT_CONTRAST, DEFAULT_DEFECT_SCALE) != (1.0, 1.0)
    index, _, digest, _ = REFERENCE_110[1]
    assert _digest(render_planned_image(0, plans[index]).image) != digest


@pytest.mark.parametrize('defect', sorted(DEFECTS))
def test_contrast_scales_the_pixel_change(defect):
    # rock: defect_gain 0.3, so contrast 1.5 and 3 give gains 0.45 and 0.9,
    # both below the cap: the change to the clean texture scales exactly,
    # up to the rounding of both images to uint8.
    assert MATERIALS['rock'].defect_gain == 0.3
    ref = render_image(
        np.random.default_rng(5), 'rock', defect, 200, 220, 3, contrast=1)
    union = np.any(ref.masks, axis=0)
    d1 = ref.image.astype(float) - ref.clean
    assert np.abs(d1[union]).mean() > 2
    for c in (1.5, 3.0):
        r = render_image(
            np.random.default_rng(5), 'rock', defect, 200, 220, 3, contrast=c)
        # The knob draws no random numbers: same texture, same defects.
        assert np.array_equal(r.clean, ref.clean)
        assert r.bboxes == ref.bboxes
        dc = r.image.astype(float) - r.clean
        assert np.array_equal(dc[~union], np.zeros_like(dc[~union]))
        # d_c = c d + e_c - e_0, d_1 = d + e_1 - e_0 with rounding errors
        # |e| <= 0.5: |d_c - c d_1| <= 0.5 + 0.5 c + 0.5 |c - 1|.
        bound = 0.5 + 0.5 * c + 0.5 * abs(c - 1)
        assert np.abs(dc - c * d1).max() <= bound + 1e-9, c
        # least-squares gain of d_c over d_1
        k = (dc[union] * d1[union]).sum() / (d1[union]**2).sum()
        assert abs(k - c) < 0.02 * c, (c, k)


def test_contrast_is_capped_at_full_gain():
    # metal: defect_gain 1.0 - any contrast above 1 changes nothing;
    # brick: 0.9 - contrast 1.2 and 4 both reach the cap of 1.0.
    for material, low, high in (('metal', 1.0, 3.0), ('brick', 1.2, 4.0)):
        a = render_image(
            np.random.default_rng(2), material, 'stain', 240, 240, 2,
            contrast=low)
        b = render_image(
            np.random.default_rng(2), material, 'stain', 240, 240, 2,
            contrast=high)
        assert np.array_equal(a.image, b.image), material
    brick = render_image(
        np.random.default_rng(2), 'brick', 'stain', 240, 240, 2, contrast=1)
    capped = render_image(
        np.random.default_rng(2), 'brick', 'stain', 240, 240, 2, contrast=4)
    assert not np.array_equal(brick.image, capped.image)


@pytest.mark.parametrize('defect', sorted(DEFECTS))
def test_defect_scale_scales_each_shape(defect):
    # The knob draws no random numbers: a stamp drawn from the same stream
    # at scale 2 is the same shape twice as large (up to the fixed
    # anti-aliasing fringe, which counts more in small stamps).
    ratios = []
    for seed in range(16):
        one = DEFECT_MAKERS[defect](np.random.default_rng(seed), 1.0)
        two = DEFECT_MAKERS[defect](np.random.default_rng(seed), 2.0)
        h1, w1 = one.cropped().alpha.shape
        h2, w2 = two.cropped().alpha.shape
        ratios.append(max(h2, w2) / max(h1, w1))
    assert 1.85 <= np.median(ratios) <= 2.15, ratios
    assert 1.6 <= min(ratios) and max(ratios) <= 2.4, ratios


def test_defect_scale_scales_the_boxes_of_a_seed():
    plans = plan_mmioc_mini(0, 480, 256, 320)[:60]
    sizes = {}
    for scale in (1.0, 2.0):
        sides = []
        for plan in plans:
            r = render_planned_image(0, plan, contrast=1, defect_scale=scale)
            sides += [max(b[2:]) for b in r.bboxes]
        sizes[scale] = np.array(sides)
    # Every instance of the plans still fits at scale 2.
    assert len(sizes[1.0]) == len(sizes[2.0]) > 100
    ratio = np.median(sizes[2.0]) / np.median(sizes[1.0])
    assert 1.8 <= ratio <= 2.2, ratio
    assert np.mean(sizes[2.0]) / np.mean(sizes[1.0]) > 1.8


@pytest.mark.parametrize('scale', [0.5, 2.0, 3.0])
def test_boxes_stay_tight_at_any_scale(scale):
    for seed, defect in enumerate(sorted(DEFECTS)):
        r = render_image(
            np.random.default_rng(seed),
            'gravel',
            defect,
            300,
            300,
            3,
            contrast=2,
            defect_scale=scale)
        assert r.masks, defect
        union = np.zeros((300, 300), bool)
        for mask, bbox in zip(r.masks, r.bboxes):
            ys, xs = np.nonzero(mask)
            assert bbox == [
                xs.min(),
                ys.min(),
                xs.max() - xs.min() + 1,
                ys.max() - ys.min() + 1
            ], (defect, scale)
            assert not (union & mask).any()
            union |= mask
        assert np.array_equal(r.image[~union], r.clean[~union])


BAD_KNOBS = [
    dict(contrast=0),
    dict(contrast=-1.0),
    dict(contrast=float('nan')),
    dict(contrast=11.0),
    dict(contrast='2'),
    dict(contrast=True),
    dict(defect_scale=0.25),
    dict(defect_scale=4.5),
    dict(defect_scale=float('inf')),
    dict(defect_scale=None),
]


@pytest.mark.parametrize('bad', BAD_KNOBS, ids=lambda d: repr(d))
def test_bad_knobs_give_a_one_line_value_error(bad, tmp_path):
    name = next(iter(bad))
    calls = [
        lambda: check_params(100, 256, 320, 0.7, 0, **bad),
        lambda: render_image(
            np.random.default_rng(0), 'rock', 'spot', 64, 64, **bad),
        lambda: generate_mmioc_mini(
            str(tmp_path / 'out'), num_images=40, **bad),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=name) as info:
            call()
        message = str(info.value)
        assert '\n' not in message and 'MMIOC-mini' in message
    # Nothing was written.
    assert not (tmp_path / 'out').exists()


def test_knobs_are_recorded_and_regenerate(tmp_path):
    out = str(tmp_path / 'mini')
    meta, generated = generate_mmioc_mini(
        out, num_images=40, contrast=1.5, defect_scale=1)
    assert generated
    with open(osp.join(out, 'meta.json'), encoding='utf-8') as f:
        stored = json.load(f)
    assert stored == meta
    assert meta['generator_version'] == '1.2.0'
    assert meta['params']['contrast'] == 1.5
    assert meta['params']['defect_scale'] == 1.0
    assert is_up_to_date(out, 0, 40, 256, 320, 0.7, 1.5, 1.0)
    assert not is_up_to_date(out, 0, 40, 256, 320, 0.7, 1.5, 1.25)
    assert not is_up_to_date(out, 0, 40, 256, 320, 0.7, 2.0, 1.0)
    # Defaults are other knobs: not up to date.
    assert not is_up_to_date(out, 0, 40, 256, 320, 0.7)
    _, generated = generate_mmioc_mini(
        out, num_images=40, contrast=1.5, defect_scale=1)
    assert not generated
    meta, generated = generate_mmioc_mini(out, num_images=40)
    assert generated
    assert meta['params']['contrast'] == DEFAULT_CONTRAST
    assert meta['params']['defect_scale'] == DEFAULT_DEFECT_SCALE


def test_cli_passes_the_knobs(tmp_path, capsys):
    tool = _load_tool()
    out = str(tmp_path / 'cli')
    args = ['--out', out, '--num-images', '40', '--no-progress']
    assert tool.main(args + ['--contrast', '1', '--defect-scale', '1']) == 0
    assert 'contrast 1, defect scale 1' in capsys.readouterr().out
    with open(osp.join(out, 'meta.json'), encoding='utf-8') as f:
        params = json.load(f)['params']
    assert (params['contrast'], params['defect_scale']) == (1.0, 1.0)
    # Without the flags: the defaults, so the 1.1.0 copy is regenerated.
    assert tool.main(args) == 0
    assert 'up to date' not in capsys.readouterr().out
    with open(osp.join(out, 'meta.json'), encoding='utf-8') as f:
        params = json.load(f)['params']
    assert params['contrast'] == DEFAULT_CONTRAST
    assert params['defect_scale'] == DEFAULT_DEFECT_SCALE
    # Bad values: exit code 2 and one line naming the knob.
    with contextlib.redirect_stdout(io.StringIO()):
        assert tool.main(args + ['--defect-scale', '9']) == 2
    err = capsys.readouterr().err
    assert 'defect_scale' in err and err.count('\n') == 1
