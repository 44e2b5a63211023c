# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Fixtures for tests and benchmarks (as ``mmdet.testing``): synthetic MMIOC
files and synthetic detections of a chosen size. Not used by training or
inference."""
