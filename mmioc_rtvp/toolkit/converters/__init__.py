# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Deprecated: moved to :mod:`mmioc_rtvp.builders.converters` (re-exported
here; the submodules of this path are aliases of the new ones)."""
from mmioc_rtvp.builders.converters import *  # noqa: F401,F403
from mmioc_rtvp.builders.converters import __all__  # noqa: F401
from mmioc_rtvp.deprecation import moved_warning

moved_warning(__name__, 'mmioc_rtvp.builders.converters')
