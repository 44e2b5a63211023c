# Copyright (c) mmioc_rtvp contributors. All rights reserved.
from .load_image_from_file import LoadImageFromFile, image_defect
from .load_text import LoadText
from .random_load_text import RandomLoadText

__all__ = [
    'LoadImageFromFile', 'LoadText', 'RandomLoadText', 'image_defect'
]
