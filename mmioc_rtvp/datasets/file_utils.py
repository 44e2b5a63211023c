# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Small file helpers shared by the datasets: existence checks that fail
with one clear line, and a fast JSON reader.

MMIOC-1M annotation files hold a million images and several million boxes;
``orjson`` parses them several times faster than the standard library, so it
is used when installed (the standard ``json`` module is the fallback).
"""
import json
import os.path as osp
from typing import Any, Optional

from mmengine.fileio import get_local_path

try:
    import orjson
except ImportError:  # pragma: no cover - depends on the environment
    orjson = None


def is_local_path(path: str) -> bool:
    """Whether ``path`` names the local file system (no ``scheme://``).

    Args:
        path (str): A path or URI.

    Returns:
        bool: False for URIs such as ``s3://bucket/x`` or ``http://...``.
    """
    return '://' not in str(path)


def check_file(path: str, what: str) -> None:
    """Raise a one-line :class:`FileNotFoundError` unless ``path`` is a file.

    Remote URIs are not checked (their backend reports its own errors).

    Args:
        path (str): The path to check.
        what (str): What the file is, for the message (``'annotation
            file'``).

    Raises:
        FileNotFoundError: ``"<what> not found: <path>"``.
    """
    if is_local_path(path) and not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')


def check_dir(path: str, what: str) -> None:
    """Raise a one-line :class:`FileNotFoundError` unless ``path`` is a
    directory.

    Remote URIs are not checked (their backend reports its own errors).

    Args:
        path (str): The path to check.
        what (str): What the directory is, for the message.

    Raises:
        FileNotFoundError: ``"<what> not found: <path>"``.
    """
    if is_local_path(path) and not osp.isdir(path):
        raise FileNotFoundError(f'{what} not found: {path}')


def load_json(path: str,
              what: str = 'JSON file',
              backend_args: Optional[dict] = None) -> Any:
    """Read a JSON file through MMEngine's file backends.

    Args:
        path (str): Local path or URI of the file.
        what (str): What the file is, for error messages.
        backend_args (dict, optional): Arguments of the file backend.

    Returns:
        Any: The parsed JSON value.

    Raises:
        FileNotFoundError: The local file does not exist.
        ValueError: The file is not valid JSON (the message names the file).
    """
    check_file(path, what)
    with get_local_path(path, backend_args=backend_args) as local_path:
        with open(local_path, 'rb') as f:
            content = f.read()
    try:
        if orjson is not None:
            return orjson.loads(content)
        return json.loads(content)
    except ValueError as e:  # orjson.JSONDecodeError is a ValueError
        first_line = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(f'{what} {path} is not valid JSON: {first_line}')
