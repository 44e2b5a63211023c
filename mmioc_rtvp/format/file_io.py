# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""File helpers of the MMIOC format: atomic JSON writing, image file names,
walking and relative paths."""
import json
import os
import os.path as osp
from typing import Any, Callable, Iterator, List, Tuple

import numpy as np

try:
    import orjson
except ImportError:  # pragma: no cover - depends on the environment
    orjson = None

#: Image file extensions (lower case) read by the converters, the
#: inferencer, the analysis tools and the web demo.
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp',
                    '.ppm', '.pgm')


def write_json(obj: Any, path: str, indent: bool = False) -> None:
    """Write ``obj`` as UTF-8 JSON, atomically (temporary file + rename).

    numpy scalars and arrays are written as numbers and lists.

    Args:
        obj (Any): The value.
        path (str): Output path; missing parent directories are created.
        indent (bool): Indent by two spaces (for small human-read files).
            Defaults to False.
    """
    parent = osp.dirname(osp.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = f'{path}.tmp{os.getpid()}'
    try:
        if orjson is not None:
            option = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE
            if indent:
                option |= orjson.OPT_INDENT_2
            with open(tmp, 'wb') as f:
                f.write(orjson.dumps(obj, option=option))
        else:  # pragma: no cover - depends on the environment
            with open(tmp, 'w', encoding='utf-8') as f:
                json.dump(
                    obj,
                    f,
                    indent=2 if indent else None,
                    ensure_ascii=False,
                    default=_numpy_default)
                f.write('\n')
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def _numpy_default(value: Any) -> Any:  # pragma: no cover - json fallback
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f'{type(value).__name__} is not JSON serialisable')


def read_json(path: str, what: str = 'JSON file') -> Any:
    """Read a UTF-8 JSON file.

    The standard parser is used (it accepts the ``NaN`` and ``Infinity``
    literals that some annotation tools write, so that such values reach the
    per-record checks instead of failing the whole file).

    Args:
        path (str): The file.
        what (str): What the file is, for messages.

    Returns:
        Any: The parsed value.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: The file is not UTF-8 JSON (the message names the file).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    try:
        with open(path, 'rb') as f:
            return json.loads(f.read().decode('utf-8-sig'))
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f'{what} {path} is not valid JSON: {err}')


def walk_files(root: str) -> Iterator[Tuple[str, str]]:
    """Yield ``(absolute path, posix path relative to root)`` of every file.

    Hidden files and directories (starting with ``.``) are skipped; the
    order is sorted (deterministic across runs and file systems).

    Args:
        root (str): Directory to walk.
    """
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith('.'))
        for name in sorted(filenames):
            if name.startswith('.'):
                continue
            path = osp.join(dirpath, name)
            yield path, osp.relpath(path, root).replace(os.sep, '/')


def is_within(path: str, directory: str) -> bool:
    """Whether ``path`` is ``directory`` or inside it (after resolving
    symbolic links)."""
    path = osp.realpath(path)
    directory = osp.realpath(directory)
    return path == directory or path.startswith(
        directory.rstrip(os.sep) + os.sep)


def relative_to(root: str) -> Callable[[str], str]:
    """A fast ``path -> posix path relative to root`` function.

    Paths that start with ``root`` (as those of :func:`walk_files` do) are
    sliced; others go through :func:`os.path.relpath`.

    Args:
        root (str): The base directory.
    """
    prefix = osp.join(root, '')

    def rel(path: str) -> str:
        if path.startswith(prefix):
            out = path[len(prefix):]
        else:
            out = osp.relpath(path, root)
        return out.replace(os.sep, '/') if os.sep != '/' else out

    return rel


def split_posix(rel: str) -> List[str]:
    """Components of a relative posix path."""
    return [p for p in rel.split('/') if p]
