# Copyright (c) mmioc_rtvp contributors. All rights reserved.
from .albu import Albu
from .load_image_from_file import LoadImageFromFile, image_defect
from .load_text import LoadText
from .random_load_text import RandomLoadText

__all__ = [
    'Albu', 'LoadImageFromFile', 'LoadText', 'RandomLoadText', 'image_defect'
]
