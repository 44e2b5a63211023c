# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Deprecated: the dataset toolkit moved.

The MMIOC format (file I/O, the split contract, the annotation arrays, the
taxonomy) is :mod:`mmioc_rtvp.format`; the offline builders (converters,
merge, split, validation, statistics, grounding split) are
:mod:`mmioc_rtvp.builders`; the synthetic benchmark dataset is
:mod:`mmioc_rtvp.testing.synthetic_mmioc`. The old submodule paths
(``mmioc_rtvp.toolkit.io`` ...) are aliases of the new modules.
"""
from mmioc_rtvp.deprecation import moved_warning

moved_warning(__name__, 'mmioc_rtvp.format or mmioc_rtvp.builders')
