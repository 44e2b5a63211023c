# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Reading image sizes, detecting corrupt images and placing output images.

Integrity checks (``check``) trade speed for certainty:

- ``'header'``: parse the header only (``PIL.Image.open`` is lazy). Detects
  missing files and files that are not images; misses truncated files.
- ``'fast'`` (default): the header, plus a look at the end of JPEG and PNG
  files for their end marker (JPEG ``FFD9``, PNG ``IEND``), which a truncated
  file (the usual corruption: an interrupted download or copy) lacks. Only
  when the marker is missing is the image decoded, to tell a truncated file
  from one with trailing bytes. Other formats (BMP, TIFF, WebP...) are
  decoded. Costs about as much as ``'header'`` for healthy JPEG/PNG files.
- ``'decode'``: decode every image. Also catches damage inside the
  compressed data, at the price of a full decode (roughly 10-50x slower than
  ``'fast'`` on small images, hours for MMIOC-1M on two cores).

None of them catches corruption that decodes without error (flipped bits
inside JPEG entropy-coded data usually decode to wrong pixels silently).
"""
import hashlib
import os
import os.path as osp
import shutil
import threading
from dataclasses import dataclass
from typing import Optional

from PIL import Image, UnidentifiedImageError

from mmioc_rtvp.format.file_io import IMAGE_EXTENSIONS

#: Image integrity checks, fastest first.
CHECKS = ('header', 'fast', 'decode')

#: How output images are written.
IMAGE_MODES = ('copy', 'hardlink', 'symlink')

_EXIF_ORIENTATION = 0x0112
_TAIL_BYTES = 4096


class ImageError(Exception):
    """An image could not be read.

    Args:
        reason (str): ``'missing_image'`` or ``'corrupt_image'``.
        detail (str): What went wrong.
    """

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f'{reason}: {detail}')


@dataclass
class ImageProbe:
    """What is known about an image file after probing it.

    Args:
        width (int): Width in pixels, as stored (EXIF orientation is not
            applied).
        height (int): Height in pixels, as stored.
        mode (str): PIL mode, e.g. ``'RGB'``, ``'L'``, ``'RGBA'``, ``'I;16'``.
        format (str): PIL format, e.g. ``'JPEG'``, ``'PNG'``.
        exif_orientation (int): EXIF orientation tag (1 = upright).
    """
    width: int
    height: int
    mode: str
    format: str
    exif_orientation: int = 1


def is_image_file(path: str) -> bool:
    """Whether ``path`` has an image suffix (case-insensitive)."""
    return path.lower().endswith(IMAGE_EXTENSIONS)


def _has_end_marker(path: str, image_format: str) -> Optional[bool]:
    """Whether a JPEG/PNG file ends with its end marker (None: other)."""
    if image_format not in ('JPEG', 'PNG', 'MPO'):
        return None
    size = os.path.getsize(path)
    with open(path, 'rb') as f:
        f.seek(max(0, size - _TAIL_BYTES))
        tail = f.read()
    if image_format == 'PNG':
        return b'IEND' in tail[-64:]
    # JPEG: EOI last (padding allowed); appended data (rare) falls back to
    # a decode. An EOI elsewhere in the tail can be an EXIF thumbnail's.
    return tail.rstrip(b'\x00\r\n\t ').endswith(b'\xff\xd9')


def probe_image(path: str, check: str = 'fast') -> ImageProbe:
    """Read the size of an image and check its integrity.

    Args:
        path (str): Image file.
        check (str): ``'header'``, ``'fast'`` or ``'decode'`` (see the module
            docstring). Defaults to ``'fast'``.

    Returns:
        ImageProbe: Size, mode, format and EXIF orientation.

    Raises:
        ImageError: ``missing_image`` if the file does not exist,
            ``corrupt_image`` if it cannot be read as an image.
        ValueError: ``check`` is unknown.
    """
    if check not in CHECKS:
        raise ValueError(f'check must be one of {CHECKS}, got {check!r}')
    if not osp.isfile(path):
        raise ImageError('missing_image', 'file not found')
    try:
        with Image.open(path) as img:
            width, height = img.size
            probe = ImageProbe(
                int(width), int(height), img.mode, str(img.format))
            if img.format in ('JPEG', 'MPO'):
                try:
                    probe.exif_orientation = int(img.getexif().get(
                        _EXIF_ORIENTATION, 1))
                except Exception:  # a broken EXIF block is not fatal
                    probe.exif_orientation = 1
            decode = check == 'decode'
            if check == 'fast':
                decode = _has_end_marker(path, probe.format) is not True
            if decode:
                img.load()
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError('corrupt_image', 'not a readable image file')
    except (OSError, SyntaxError, ValueError, EOFError,
            Image.DecompressionBombError) as err:
        raise ImageError('corrupt_image', f'{type(err).__name__}: {err}')
    if probe.width <= 0 or probe.height <= 0:
        raise ImageError('corrupt_image',
                         f'image size {probe.width}x{probe.height}')
    return probe


def place_image(src: str, dst: str, mode: str = 'copy') -> str:
    """Make ``dst`` hold the image ``src``, never writing to ``src``.

    An existing ``dst`` is replaced as a directory entry (a temporary file or
    link renamed over it), never written in place: if a previous run left a
    hard link or a symbolic link to the source at ``dst``, writing into it
    would modify the source. An up-to-date ``dst`` (same size and
    modification time for copies, same target for links) is left alone, so
    that re-runs are fast.

    Args:
        src (str): Source image.
        dst (str): Output path (parent directories are created).
        mode (str): ``'copy'`` (default), ``'hardlink'`` (falls back to a
            copy across file systems) or ``'symlink'`` (absolute target).

    Returns:
        str: The mode actually used, or ``'kept'`` if ``dst`` was up to date.

    Raises:
        ValueError: ``mode`` is unknown.
    """
    if mode not in IMAGE_MODES:
        raise ValueError(f'image mode must be one of {IMAGE_MODES}, got '
                         f'{mode!r}')
    src_abs = osp.abspath(src)
    os.makedirs(osp.dirname(dst) or '.', exist_ok=True)
    if osp.lexists(dst):
        if mode == 'symlink':
            if osp.islink(dst) and os.readlink(dst) == src_abs:
                return 'kept'
        elif not osp.islink(dst):
            if mode == 'hardlink' and osp.samefile(src_abs, dst):
                return 'kept'
            src_stat, dst_stat = os.stat(src_abs), os.stat(dst)
            if (mode == 'copy' and src_stat.st_ino != dst_stat.st_ino
                    and src_stat.st_size == dst_stat.st_size
                    and src_stat.st_mtime_ns == dst_stat.st_mtime_ns):
                return 'kept'
        # replace the existing entry through a temporary name
        tmp = osp.join(
            osp.dirname(dst) or '.',
            f'.tmp_{os.getpid()}_{threading.get_ident()}_'
            f'{osp.basename(dst)}')
        if osp.lexists(tmp):  # left by an interrupted run
            os.unlink(tmp)
    else:
        # nothing to write through: create dst directly (an interrupted
        # copy has another size or time and is redone by the next run)
        tmp = dst
    used = mode
    try:
        if mode == 'symlink':
            os.symlink(src_abs, tmp)
        elif mode == 'hardlink':
            try:
                os.link(src_abs, tmp)
            except OSError:  # another file system, or links not allowed
                shutil.copy2(src_abs, tmp)
                used = 'copy'
        else:
            shutil.copy2(src_abs, tmp)
        if tmp != dst:
            os.replace(tmp, dst)
    finally:
        if tmp != dst and osp.lexists(tmp):
            os.unlink(tmp)
    return used


def hash_file(path: str, algorithm: str = 'sha1') -> str:
    """Hex digest of a file's content (for duplicate detection).

    Args:
        path (str): File to hash.
        algorithm (str): A :mod:`hashlib` algorithm. Defaults to ``'sha1'``
            (fast; duplicate detection needs no cryptographic strength).

    Returns:
        str: The hex digest.
    """
    digest = hashlib.new(algorithm)
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()
