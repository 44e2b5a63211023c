# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Server-side images: only files inside the allowed folders are read."""
import os
import os.path as osp
from typing import List, Sequence

from .errors import InputRejected

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


class AllowedPaths:
    """Resolve client-given paths and refuse any outside the allowed folders.

    Paths are resolved with :func:`os.path.realpath` (symbolic links and
    ``..`` followed) BEFORE the containment check, so neither ``../`` nor a
    link inside an allowed folder pointing out of it escapes.

    Args:
        folders (Sequence[str]): The allowed folders (may be empty: then no
            server-side file is ever read).
    """

    def __init__(self, folders: Sequence[str]) -> None:
        self.folders: List[str] = []
        for folder in folders:
            real = osp.realpath(folder)
            if not osp.isdir(real):
                raise NotADirectoryError(
                    f'--allowed-dir {folder!r}: not a directory')
            self.folders.append(real)

    def contains(self, real_path: str) -> bool:
        """Whether an already resolved path lies inside an allowed folder."""
        return any(
            osp.commonpath([real_path, folder]) == folder
            for folder in self.folders)

    def resolve(self, path: str) -> str:
        """The real path of ``path`` if it is an image file inside a folder.

        A relative path is taken relative to each allowed folder in turn.

        Args:
            path (str): As sent by the client.

        Returns:
            str: The resolved absolute path.

        Raises:
            InputRejected: 403 outside the folders, 404 not a file, 415 not
                an image suffix.
        """
        if not self.folders:
            raise InputRejected(
                f'{path!r}: the server reads no files (start it with '
                '--allowed-dir DIR)', status=403)
        if '\x00' in path:
            raise InputRejected(f'{path!r}: invalid path', status=400)
        candidates = ([path] if osp.isabs(path) else
                      [osp.join(folder, path) for folder in self.folders])
        inside = [
            real for real in map(osp.realpath, candidates)
            if self.contains(real)
        ]
        if not inside:
            raise InputRejected(
                f'{path!r}: outside the allowed folders', status=403)
        found = [real for real in inside if osp.isfile(real)]
        if not found:
            raise InputRejected(f'{path!r}: no such file', status=404)
        if not found[0].lower().endswith(IMAGE_SUFFIXES):
            raise InputRejected(
                f'{path!r}: not an image file name '
                f'({", ".join(IMAGE_SUFFIXES)})', status=415)
        return found[0]

    def list_images(self, limit: int) -> List[str]:
        """Up to ``limit`` image files, as paths relative to their folder.

        Links leading outside the folders are not listed.
        """
        found: List[str] = []
        for folder in self.folders:
            for root, dirs, files in os.walk(folder):
                dirs.sort()
                for name in sorted(files):
                    full = osp.join(root, name)
                    if (name.lower().endswith(IMAGE_SUFFIXES)
                            and self.contains(osp.realpath(full))):
                        found.append(osp.relpath(full, folder))
                        if len(found) >= limit:
                            return found
        return found
