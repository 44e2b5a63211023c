# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Fixtures of the drop-in tests."""
import pytest
import torch


@pytest.fixture
def one_thread():
    """One intra-op thread (the machine is shared)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
