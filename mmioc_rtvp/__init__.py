# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""mmioc_rtvp: MMIOC-1M and RTVPNet as an OpenMMLab plugin.

Importing the package is light (no torch, no OpenMMLab): the MMIOC format
(``mmioc_rtvp.format``) and the offline dataset builders
(``mmioc_rtvp.builders``) run without them. ``mmioc_rtvp.registry``, which
every build through the ``mmioc_rtvp`` scope imports, allow-lists numpy's
array types for ``torch.load(weights_only=True)``.
"""
from .version import __version__, version_info

__all__ = ['__version__', 'version_info']
