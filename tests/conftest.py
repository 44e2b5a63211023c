# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Session fixtures shared by the configuration and integration tests."""
import os

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope='session')
def mini_workspace(tmp_path_factory):
    """A directory holding ``data/mmioc_mini``: a small MMIOC-mini (72
    images, seed 0) with its grounding split, so that configs' relative data
    roots resolve in it."""
    from mmioc_rtvp.builders.mmioc_mini import generate_mmioc_mini
    from mmioc_rtvp.builders.grounding_split import write_grounding_splits
    workspace = tmp_path_factory.mktemp('workspace')
    generate_mmioc_mini(
        str(workspace / 'data' / 'mmioc_mini'), seed=0, num_images=72)
    # its grounding split, as `make data` writes it (configs/grounding/)
    write_grounding_splits(str(workspace / 'data' / 'mmioc_mini'))
    return workspace


@pytest.fixture(scope='session')
def tiny_clip_512(tmp_path_factory):
    """A tiny random CLIP whose text projection is 512-d, as ViT-B/32's."""
    from tests.utils.tiny_clip import save_tiny_clip
    return str(save_tiny_clip(tmp_path_factory.mktemp('tiny_clip_512'), 512))


@pytest.fixture(scope='session')
def mobile_sam_file(tmp_path_factory):
    """A checkpoint in the layout of the official ``mobile_sam.pt``
    (``image_encoder.*`` keys), with random weights (the real file cannot be
    obtained offline)."""
    import torch

    from mmioc_rtvp.models.backbones import MobileSAMTinyViT
    torch.manual_seed(0)
    state = MobileSAMTinyViT(frozen=False).state_dict()
    path = tmp_path_factory.mktemp('mobile_sam') / 'mobile_sam.pt'
    torch.save({f'image_encoder.{k}': v for k, v in state.items()}, path)
    return str(path)


@pytest.fixture(autouse=True)
def _drop_closed_log_files():
    """After each test, detach file handlers whose stream a finished runner
    closed from every MMLogger: mmengine's ``init_weights`` writes to the
    current logger's file handlers, so a closed one left by an earlier
    in-process run breaks later model builds (test-order dependence)."""
    yield
    import logging

    from mmengine.logging import MMLogger
    for logger in list(MMLogger._instance_dict.values()):
        for handler in list(logger.handlers):
            if (isinstance(handler, logging.FileHandler)
                    and (handler.stream is None or handler.stream.closed)):
                logger.removeHandler(handler)
