# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Loading MMEngine checkpoints with ``torch.load(weights_only=True)``.

A checkpoint is a pickle, and unpickling arbitrary objects executes code.
PyTorch >= 2.6 loads with ``weights_only=True`` by default and refuses every
global that is not allow-listed. A plain MMEngine checkpoint needs two kinds of
globals that are not on PyTorch's list:

* ``mmengine.logging.HistoryBuffer`` objects in the message hub, which pickle
  their statistics methods through ``builtins.getattr``. Allow-listing
  ``getattr`` would let a pickle call any attribute of any allowed object, so
  we do NOT do that: :class:`~mmioc_rtvp.engine.hooks.PlainMessageHubHook`
  stores the message hub as plain data instead.
* numpy scalars and arrays (in the message hub's runtime information and in
  the metadata), which are reconstructed through
  ``numpy.core.multiarray._reconstruct``, ``numpy.ndarray``, ``numpy.dtype``
  and the per-dtype classes. These rebuild data, not behaviour, and are
  allow-listed by :func:`register_numpy_safe_globals`.
"""
from typing import List

import numpy as np
import torch


def numpy_safe_globals() -> List[object]:
    """Return the numpy globals that numpy arrays and scalars pickle through.

    Returns:
        list: ``_reconstruct``, ``scalar``, ``ndarray``, ``dtype`` and every
        concrete dtype class (``numpy.dtypes.Float64DType`` ...).
    """
    try:  # numpy >= 2
        from numpy._core import multiarray
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray
    safe: List[object] = [
        multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype
    ]
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        for name in dir(dtypes):
            obj = getattr(dtypes, name)
            if isinstance(obj, type) and issubclass(obj, np.dtype):
                safe.append(obj)
    else:  # pragma: no cover - numpy < 1.25
        safe.extend(type(np.dtype(t)) for t in np.sctypeDict.values())
    return safe


def register_numpy_safe_globals() -> None:
    """Allow-list numpy data types for ``torch.load(weights_only=True)``.

    Idempotent. ``weights_only`` stays on: anything else in a checkpoint
    (an arbitrary class, ``builtins.getattr``, ``os.system`` ...) is still
    refused by PyTorch's unpickler.
    """
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:  # torch < 2.4 has no weights-only default to satisfy
        return
    known = set(map(id, torch.serialization.get_safe_globals()))
    add([g for g in numpy_safe_globals() if id(g) not in known])
