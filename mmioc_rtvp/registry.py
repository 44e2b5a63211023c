# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Registries of mmioc_rtvp.

Every node is a child of the matching MMYOLO node (or of MMEngine's root node
where MMYOLO has none), under the scope ``'mmioc_rtvp'``. The default scope of
every config shipped in ``configs/`` is therefore ``default_scope =
'mmioc_rtvp'``: a ``type`` is looked up here first, then in MMYOLO, then in
MMEngine's root. Modules of MMDetection are named with their scope prefix
(``'mmdet.CocoMetric'``), as MMYOLO's own configs do.

Because these nodes sit below MMYOLO's, the scoped form
``type='mmioc_rtvp.Xxx'`` resolves from the ``mmioc_rtvp`` and ``mmyolo``
scopes; from another scope (e.g. a config with ``default_scope='mmdet'``)
write ``dict(type='Xxx', _scope_='mmioc_rtvp')``, which MMEngine resolves by
searching the whole registry tree.

Two nodes hang directly under MMEngine's root instead: ``RUNNERS`` and
``FUNCTIONS`` (collate functions), because MMEngine resolves them by scoped
name (``'mmioc_rtvp.MMIOCRunner'``, ``'mmioc_rtvp.multimodal_collate'``)
before a default scope is active, and MMYOLO has no such nodes.

Modules are found lazily through ``locations``: building a config never needs
``custom_imports``. Each node also lists its MMYOLO parent's locations,
because MMEngine imports the locations of the node a lookup starts from,
not those of the parents it falls back to.
"""
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import Registry
from mmyolo.registry import DATA_SAMPLERS as MMYOLO_DATA_SAMPLERS
from mmyolo.registry import DATASETS as MMYOLO_DATASETS
from mmyolo.registry import HOOKS as MMYOLO_HOOKS
from mmyolo.registry import LOOPS as MMYOLO_LOOPS
from mmyolo.registry import METRICS as MMYOLO_METRICS
from mmyolo.registry import MODEL_WRAPPERS as MMYOLO_MODEL_WRAPPERS
from mmyolo.registry import MODELS as MMYOLO_MODELS
from mmyolo.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMYOLO_OPTIM_WRAPPER_CONSTRUCTORS
from mmyolo.registry import OPTIM_WRAPPERS as MMYOLO_OPTIM_WRAPPERS
from mmyolo.registry import OPTIMIZERS as MMYOLO_OPTIMIZERS
from mmyolo.registry import PARAM_SCHEDULERS as MMYOLO_PARAM_SCHEDULERS
from mmyolo.registry import TASK_UTILS as MMYOLO_TASK_UTILS
from mmyolo.registry import TRANSFORMS as MMYOLO_TRANSFORMS
from mmyolo.registry import VISBACKENDS as MMYOLO_VISBACKENDS
from mmyolo.registry import VISUALIZERS as MMYOLO_VISUALIZERS

from mmioc_rtvp.utils.checkpoint_safety import register_numpy_safe_globals

SCOPE = 'mmioc_rtvp'
# Checkpoints written by this package load with torch.load(weights_only=True)
# (the PyTorch >= 2.6 default) once numpy's data types are allow-listed; every
# build in this scope imports this module first (see utils/checkpoint_safety).
register_numpy_safe_globals()

# A direct child of MMEngine's root: ``runner_type='mmioc_rtvp.MMIOCRunner'``
# is resolved before any default scope exists (MMEngine only looks up scoped
# names among the root's direct children; MMYOLO registers no runner).
RUNNERS = Registry(
    'runner', parent=MMENGINE_RUNNERS, scope=SCOPE,
    locations=['mmioc_rtvp.engine.runner'])
LOOPS = Registry(
    'loop', parent=MMYOLO_LOOPS, scope=SCOPE,
    locations=['mmioc_rtvp.engine.runner', 'mmyolo.engine'])
HOOKS = Registry(
    'hook', parent=MMYOLO_HOOKS, scope=SCOPE,
    locations=['mmioc_rtvp.engine.hooks', 'mmyolo.engine.hooks'])
DATASETS = Registry(
    'dataset', parent=MMYOLO_DATASETS, scope=SCOPE,
    locations=['mmioc_rtvp.datasets', 'mmyolo.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMYOLO_DATA_SAMPLERS, scope=SCOPE,
    locations=['mmioc_rtvp.datasets', 'mmyolo.datasets'])
TRANSFORMS = Registry(
    'transform', parent=MMYOLO_TRANSFORMS, scope=SCOPE,
    locations=['mmioc_rtvp.datasets.transforms',
               'mmyolo.datasets.transforms'])
# collate functions (mmengine resolves ``collate_fn`` through FUNCTIONS)
FUNCTIONS = Registry(
    'function', parent=MMENGINE_FUNCTIONS, scope=SCOPE,
    locations=['mmioc_rtvp.datasets'])
MODELS = Registry(
    'model', parent=MMYOLO_MODELS, scope=SCOPE,
    locations=['mmioc_rtvp.models', 'mmyolo.models'])
MODEL_WRAPPERS = Registry(
    'model_wrapper', parent=MMYOLO_MODEL_WRAPPERS, scope=SCOPE,
    locations=['mmioc_rtvp.models', 'mmyolo.models'])
TASK_UTILS = Registry(
    'task util', parent=MMYOLO_TASK_UTILS, scope=SCOPE,
    locations=['mmioc_rtvp.models', 'mmyolo.models'])
OPTIMIZERS = Registry(
    'optimizer', parent=MMYOLO_OPTIMIZERS, scope=SCOPE,
    locations=['mmioc_rtvp.engine', 'mmyolo.engine.optimizers'])
OPTIM_WRAPPERS = Registry(
    'optim_wrapper', parent=MMYOLO_OPTIM_WRAPPERS, scope=SCOPE,
    locations=['mmioc_rtvp.engine', 'mmyolo.engine.optimizers'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMYOLO_OPTIM_WRAPPER_CONSTRUCTORS, scope=SCOPE,
    locations=['mmioc_rtvp.engine', 'mmyolo.engine.optimizers'])
PARAM_SCHEDULERS = Registry(
    'parameter scheduler', parent=MMYOLO_PARAM_SCHEDULERS, scope=SCOPE,
    locations=['mmioc_rtvp.engine', 'mmyolo.engine.optimizers'])
METRICS = Registry(
    'metric', parent=MMYOLO_METRICS, scope=SCOPE,
    locations=['mmioc_rtvp.evaluation', 'mmyolo.engine'])
VISUALIZERS = Registry(
    'visualizer', parent=MMYOLO_VISUALIZERS, scope=SCOPE,
    locations=['mmioc_rtvp.utils', 'mmyolo.utils'])
VISBACKENDS = Registry(
    'vis_backend', parent=MMYOLO_VISBACKENDS, scope=SCOPE,
    locations=['mmioc_rtvp.utils', 'mmyolo.utils'])
