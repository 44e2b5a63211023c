# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Decode uploaded bytes into an image, refusing anything that is not one."""
import io
from typing import Tuple

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import InputRejected

#: Formats the demo decodes (Pillow format names).
IMAGE_FORMATS = ('JPEG', 'PNG', 'BMP', 'TIFF', 'WEBP', 'PPM')


def decode_image(data: bytes, name: str, max_bytes: int,
                 max_pixels: int) -> np.ndarray:
    """Decode an uploaded image.

    The size is checked before anything is decoded, and the pixel count from
    the header before the pixels are (a small file can declare a huge image).

    Args:
        data (bytes): The uploaded file.
        name (str): Its file name, for the messages.
        max_bytes (int): Largest accepted file.
        max_pixels (int): Largest accepted width x height.

    Returns:
        np.ndarray: uint8 (H, W, 3), BGR (OpenCV / mmcv channel order).

    Raises:
        InputRejected: 413 when too large, 400 when empty or not an image.
    """
    if len(data) > max_bytes:
        raise InputRejected(
            f'{name!r}: upload of {len(data)} bytes is over the limit of '
            f'{max_bytes} bytes ({max_bytes / 2**20:.1f} MB)', status=413)
    if not data:
        raise InputRejected(f'{name!r}: empty file')
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format not in IMAGE_FORMATS:
                raise InputRejected(
                    f'{name!r}: {img.format} images are not accepted '
                    f'(accepted: {", ".join(IMAGE_FORMATS)})', status=415)
            check_pixels(name, img.size, max_pixels)
            rgb = np.asarray(img.convert('RGB'))
    except InputRejected:
        raise
    except (UnidentifiedImageError, OSError, ValueError,
            Image.DecompressionBombError) as err:
        raise InputRejected(
            f'{name!r}: not an image that can be decoded ({err})',
            status=415) from err
    return np.ascontiguousarray(rgb[..., ::-1])


def check_pixels(name: str, size: Tuple[int, int], max_pixels: int) -> None:
    """Refuse an image whose ``(width, height)`` exceeds ``max_pixels``."""
    width, height = size
    if width * height > max_pixels:
        raise InputRejected(
            f'{name!r}: {width} x {height} pixels is over the limit of '
            f'{max_pixels} pixels', status=413)
