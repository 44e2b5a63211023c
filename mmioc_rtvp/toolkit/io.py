# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Deprecated: this module moved to
:mod:`mmioc_rtvp.format.io`
(this path is an alias of it)."""
from mmioc_rtvp.deprecation import alias_module

alias_module(__name__, 'mmioc_rtvp.format.io')
