# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Import a repository script (tools/, benchmarks/) as a module for tests."""
import importlib.util
import os.path as osp
from types import ModuleType

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_script(relpath: str, name: str) -> ModuleType:
    """Execute ``REPO_ROOT/relpath`` as a fresh module called ``name``."""
    spec = importlib.util.spec_from_file_location(
        name, osp.join(REPO_ROOT, relpath))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
