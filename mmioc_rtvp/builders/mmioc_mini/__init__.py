# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""MMIOC-mini: a small synthetic dataset in the MMIOC format."""
from .generator import *  # noqa: F401,F403
