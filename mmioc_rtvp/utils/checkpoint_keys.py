# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Keys of ``checkpoint['meta']`` shared by training and loading.

Training writes them (:class:`~mmioc_rtvp.engine.hooks.SlimCheckpointHook`)
and the inferencer reads them (:mod:`mmioc_rtvp.apis`): they live below both.
"""
#: ``checkpoint['meta']`` key listing the modules left out.
SLIM_META_KEY = 'slim_checkpoint'
