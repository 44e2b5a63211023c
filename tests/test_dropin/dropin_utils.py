# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Helpers of the drop-in tests: stock detectors with this package's
modules inserted by a user config file."""


def write_user_config(tmp_path, text: str) -> str:
    """A user's config file, as it would sit in their own project."""
    path = tmp_path / 'user_config.py'
    path.write_text(text)
    return str(path)


#: A small pipeline for one quick training step (64 px).
TINY_TRAIN_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='mmdet.Resize', scale=(64, 64), keep_ratio=False),
    dict(type='mmdet.PackDetInputs')
]
