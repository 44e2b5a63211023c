# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""mmioc_rtvp: MMIOC-1M and RTVPNet as an OpenMMLab plugin."""
from .utils.checkpoint_safety import register_numpy_safe_globals
from .version import __version__, version_info

# MMEngine checkpoints written by this package load with
# ``torch.load(weights_only=True)`` (the PyTorch >= 2.6 default) once numpy's
# data types are allow-listed; see ``mmioc_rtvp/utils/checkpoint_safety.py``.
register_numpy_safe_globals()

__all__ = ['__version__', 'version_info']
