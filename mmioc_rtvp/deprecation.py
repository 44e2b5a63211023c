# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Old module paths kept importable after a module moved.

A module left at its old path calls :func:`alias_module`, which makes the old
name refer to the new module object itself: ``from <old> import <name>`` (and
``isinstance`` checks, and monkeypatching through the old path) keep working,
and there is one copy of every class. Imports nothing heavy.
"""
import importlib
import sys
import warnings
from types import ModuleType


def moved_warning(old: str, new: str) -> None:
    """Emit the :class:`DeprecationWarning` of a module that moved.

    Args:
        old (str): The old dotted module path.
        new (str): Where it lives now.
    """
    warnings.warn(
        f'{old} is deprecated and will be removed; import {new} instead',
        DeprecationWarning,
        stacklevel=3)


def alias_module(old: str, new: str) -> ModuleType:
    """Make module path ``old`` an alias of module ``new``.

    Called from the body of the module at the old path; warns once (the
    first import of ``old``).

    Args:
        old (str): The old dotted module path (the caller's ``__name__``).
        new (str): The dotted path of the module that replaces it.

    Returns:
        ModuleType: The new module (now also ``sys.modules[old]``).
    """
    moved_warning(old, new)
    module = importlib.import_module(new)
    sys.modules[old] = module
    return module
