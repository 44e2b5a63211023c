# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Load an image; an unreadable one is reported and replaced, not fatal."""
import io
import json
import logging
import os
from typing import Optional, Set

import mmcv
import numpy as np
from mmcv.transforms import LoadImageFromFile as MMCVLoadImageFromFile
from mmengine import fileio
from mmengine.logging import print_log

from mmioc_rtvp.registry import TRANSFORMS

#: environment variable naming the JSON-lines file where every replaced image
#: is appended (set by ``BadDataHook`` before the data-loader workers start)
BAD_DATA_LEDGER_ENV = 'MMIOC_BAD_DATA_LEDGER'


def image_defect(img_bytes: bytes) -> Optional[str]:
    """Why encoded image bytes are incomplete, or None when they look whole.

    OpenCV decodes a truncated JPEG or PNG without an error (the missing
    rows come out grey), so the end markers are checked: a JPEG must end
    with EOI (``FF D9``, trailing padding allowed), a PNG must hold its
    ``IEND`` chunk. When the marker is missing, a full decode with Pillow
    decides (a JPEG may carry data after EOI).

    Args:
        img_bytes (bytes): the file's content.

    Returns:
        str | None: the reason, e.g. ``'truncated JPEG (...)'``.
    """
    if not img_bytes:
        return 'empty file'
    if img_bytes[:2] == b'\xff\xd8':
        kind = 'JPEG'
        whole = img_bytes.rstrip(b'\x00\r\n\t ').endswith(b'\xff\xd9')
    elif img_bytes[:8] == b'\x89PNG\r\n\x1a\n':
        kind = 'PNG'
        whole = b'IEND' in img_bytes[-64:]
    else:
        return None
    if whole:
        return None
    from PIL import Image
    try:
        with Image.open(io.BytesIO(img_bytes)) as img:
            img.load()
    except Exception as err:  # PIL raises many types on broken files
        return f'truncated {kind} ({type(err).__name__}: {err})'
    return None


@TRANSFORMS.register_module()
class LoadImageFromFile(MMCVLoadImageFromFile):
    """MMCV's ``LoadImageFromFile`` that survives a bad image.

    Registered under the same name in the ``mmioc_rtvp`` scope, so every
    config of this package uses it (as MMYOLO's ``LoadAnnotations`` replaces
    MMDetection's). Two differences from the parent:

    - **Unreadable images** (missing, empty, undecodable or truncated file):
      the transform returns ``None``. MMEngine's ``BaseDataset`` then draws
      another sample (training), or stops with an error (``test_mode``: an
      evaluation must not silently change its images). The path and the
      reason are logged once per process, and appended to the file named by
      ``$MMIOC_BAD_DATA_LEDGER`` when set (``BadDataHook`` sets it and
      counts the entries in the training log and the final summary).
    - **EXIF orientation is ignored** by default
      (``color_type='color_ignore_orientation'``): the image is loaded in its
      stored pixel layout, the layout in which the MMIOC converters write
      ``width``, ``height`` and the boxes. MMCV's default (``'color'``) lets
      OpenCV rotate EXIF-tagged JPEGs, after which the boxes of a rotated
      image would not match its pixels.

    Args:
        color_type (str): ``mmcv.imfrombytes`` flag. Defaults to
            ``'color_ignore_orientation'``.
        replace_unreadable (bool): Return ``None`` for an unreadable image
            (True, default) or raise ``OSError`` naming it (False).
        check_truncation (bool): Check JPEG/PNG end markers (see
            :func:`image_defect`). Defaults to True.
        **kwargs: The parent's arguments (``to_float32``,
            ``imdecode_backend``, ``backend_args``, ...).
    """

    def __init__(self,
                 color_type: str = 'color_ignore_orientation',
                 replace_unreadable: bool = True,
                 check_truncation: bool = True,
                 **kwargs) -> None:
        super().__init__(color_type=color_type, **kwargs)
        self.replace_unreadable = replace_unreadable
        self.check_truncation = check_truncation
        self._reported: Set[str] = set()

    def _read(self, filename: str) -> np.ndarray:
        """The decoded image; raises ``OSError`` with the reason."""
        try:
            if self.file_client_args is not None:
                client = fileio.FileClient.infer_client(
                    self.file_client_args, filename)
                img_bytes = client.get(filename)
            else:
                img_bytes = fileio.get(
                    filename, backend_args=self.backend_args)
        except FileNotFoundError:
            raise OSError('file not found')
        except Exception as err:
            raise OSError(f'cannot read: {type(err).__name__}: {err}')
        reason = image_defect(img_bytes) if self.check_truncation else (
            None if img_bytes else 'empty file')
        if reason is not None:
            raise OSError(reason)
        try:
            img = mmcv.imfrombytes(
                img_bytes, flag=self.color_type, backend=self.imdecode_backend)
        except Exception as err:
            raise OSError(f'cannot decode: {type(err).__name__}: {err}')
        if img is None or img.size == 0:
            raise OSError('cannot decode: not an image OpenCV can read')
        return img

    def transform(self, results: dict) -> Optional[dict]:
        """Load ``results['img_path']``.

        Args:
            results (dict): needs ``img_path``.

        Returns:
            dict | None: with ``img`` ``(H, W, 3)`` uint8 (float32 with
            ``to_float32``), ``img_shape`` and ``ori_shape`` ``(H, W)``;
            None when the image is unreadable and ``replace_unreadable``.
        """
        filename = results['img_path']
        try:
            img = self._read(filename)
        except OSError as err:
            if not self.replace_unreadable and not self.ignore_empty:
                raise OSError(f'unreadable image {filename}: {err}') from None
            self._report(filename, str(err))
            return None
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def _report(self, filename: str, reason: str) -> None:
        ledger = os.environ.get(BAD_DATA_LEDGER_ENV)
        if ledger:
            line = json.dumps(dict(path=filename, reason=reason)) + '\n'
            # one short O_APPEND write per event: lines of several processes
            # do not interleave
            fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode('utf-8'))
            finally:
                os.close(fd)
        if filename not in self._reported and not ledger:
            print_log(
                f'unreadable image {filename} ({reason}): sample replaced',
                logger='current',
                level=logging.WARNING)
        self._reported.add(filename)

    def __repr__(self) -> str:
        return (f'{super().__repr__()[:-1]}, '
                f'replace_unreadable={self.replace_unreadable}, '
                f'check_truncation={self.check_truncation})')
