# Copyright (c) mmioc_rtvp contributors. All rights reserved.
from .checkpoint_safety import (numpy_safe_globals,
                                register_numpy_safe_globals)

__all__ = ['numpy_safe_globals', 'register_numpy_safe_globals']
