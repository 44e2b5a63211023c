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
from mmioc_rtvp.format.splits import SPLIT_NAMES, SPLIT_VOCABULARY, TEXT_FILES
from .defects import (ALPHA_MIN, DEFECT_MAKERS, SUPERSAMPLE, DefectStamp,
                      ShadeFn, make_crack, make_hole, make_missing_part,
                      make_scratch, make_spot, make_stain)
from .generator import (GENERATOR_VERSION, JPEG_QUALITY, expected_files,
                        format_summary, generate_mmioc_mini, is_up_to_date,
                        split_closed)
from .materials import (DEFECTS, MATERIALS, MaterialSpec, MiniClass,
                        mmioc_mini_classes, sample_texture, scene_slug)
from .render import (BOX_MARGIN, CONTRAST_RANGE, DEFAULT_CONTRAST,
                     DEFAULT_DEFECT_SCALE, DEFECT_FREE_FRACTION,
                     DEFECT_SCALE_RANGE, INSTANCE_PROBS, ImagePlan,
                     RenderedImage, check_difficulty, check_params,
                     mask_to_bbox, plan_mmioc_mini, render_image,
                     render_planned_image)

__all__ = [
    'ALPHA_MIN', 'BOX_MARGIN', 'CONTRAST_RANGE', 'DEFAULT_CONTRAST',
    'DEFAULT_DEFECT_SCALE', 'DEFECTS', 'DEFECT_FREE_FRACTION', 'DEFECT_MAKERS',
    'DEFECT_SCALE_RANGE', 'DefectStamp', 'GENERATOR_VERSION',
    'INSTANCE_PROBS', 'ImagePlan', 'JPEG_QUALITY', 'MATERIALS',
    'MaterialSpec', 'MiniClass', 'RenderedImage', 'SPLIT_NAMES',
    'SPLIT_VOCABULARY', 'SUPERSAMPLE', 'ShadeFn', 'TEXT_FILES',
    'check_difficulty', 'check_params', 'expected_files', 'format_summary',
    'generate_mmioc_mini', 'is_up_to_date', 'make_crack', 'make_hole',
    'make_missing_part', 'make_scratch', 'make_spot', 'make_stain',
    'mask_to_bbox', 'mmioc_mini_classes', 'plan_mmioc_mini', 'render_image',
    'render_planned_image', 'sample_texture', 'scene_slug', 'split_closed'
]
