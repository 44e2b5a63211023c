# Copyright (c) mmioc_rtvp contributors. All rights reserved.
from .load_text import LoadText
from .random_load_text import RandomLoadText

__all__ = ['LoadText', 'RandomLoadText']
