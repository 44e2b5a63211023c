# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Server-side images: only files inside the allowed folders are read."""
import os
import os.path as osp
from typing import List, Sequence

from mmioc_rtvp.format.file_io import IMAGE_EXTENSIONS
from .errors import InputRejected


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
        if not found[0].lower().endswith(IMAGE_EXTENSIONS):
            raise InputRejected(
                f'{path!r}: not an image file name '
                f'({", ".join(IMAGE_EXTENSIONS)})', status=415)
        return found[0]

    def read(self, path: str, max_bytes: int) -> bytes:
        """The bytes of an image file inside a folder, checked where it
        was actually opened.

        :meth:`resolve` checks a path, then the file is opened: a folder
        swapped for a link in between would redirect the open. So the file
        is opened without following a final link, and the path of the OPEN
        file (``/proc/self/fd`` on Linux; elsewhere its device and inode
        against the checked path's) must still lie inside the folders.

        Args:
            path (str): As sent by the client.
            max_bytes (int): Largest file accepted.

        Returns:
            bytes: The file's content.

        Raises:
            InputRejected: as :meth:`resolve`; 403 if the opened file is not
                the checked one; 413 over ``max_bytes``.
        """
        return self.read_resolved(self.resolve(path), max_bytes)

    def read_resolved(self, real_path: str, max_bytes: int) -> bytes:
        """Open an already checked real path and check the opened file
        (see :meth:`read`)."""
        try:
            fd = os.open(real_path,
                         os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0))
        except OSError as err:
            raise InputRejected(
                f'{osp.basename(real_path)!r}: cannot be opened '
                f'({err.strerror})', status=403) from err
        with os.fdopen(fd, 'rb') as f:
            proc_link = f'/proc/self/fd/{fd}'
            if osp.islink(proc_link):
                opened_inside = self.contains(os.readlink(proc_link))
            else:  # no /proc: the open file must be the checked one
                st, opened = os.stat(real_path), os.fstat(fd)
                opened_inside = (st.st_dev, st.st_ino) == (opened.st_dev,
                                                           opened.st_ino)
            if not opened_inside:
                raise InputRejected(
                    f'{osp.basename(real_path)!r}: the file opened is not '
                    'inside the allowed folders', status=403)
            data = f.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise InputRejected(
                f'{osp.basename(real_path)!r}: larger than {max_bytes} bytes',
                status=413)
        return data

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
                    if (name.lower().endswith(IMAGE_EXTENSIONS)
                            and self.contains(osp.realpath(full))):
                        found.append(osp.relpath(full, folder))
                        if len(found) >= limit:
                            return found
        return found
