# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""A folder of the image files a user's folder may hold: good ones in
every pixel format OpenCV converts, and bad ones, each with the reason
the inferencer gives."""
import io
import os.path as osp
import struct
import zlib
from typing import Dict, Tuple

import numpy as np
from PIL import Image

#: file name -> reason it is skipped (None: processed)
ODD_FILES: Dict[str, str] = {
    'rgb.png': None,
    'gray.png': None,
    'gray16.png': None,
    'cmyk.jpg': None,
    'rgb.jpg': None,
    'truncated.png': 'truncated PNG',
    'truncated.jpg': 'truncated JPEG',
    'empty.png': 'empty file',
    'huge.png': 'pixels is over the limit of',
    'fake.jpg': 'not a decodable image',
    'notes.txt': 'not an image or video file name',
    'labels.json': 'not an image or video file name',
    'README': 'not an image or video file name',
}


def _encoded(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def write_video(path: str, num_frames: int) -> str:
    """An MJPG ``.avi`` of ``num_frames`` 64 x 48 frames, frame ``i`` of
    grey level ``40 * i``."""
    import cv2
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), 5,
                             (64, 48))
    for i in range(num_frames):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.release()
    return path


def huge_png(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of ``width`` x ``height`` black pixels, a few
    hundred KB on disk (written row by row: never held as pixels)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack('>I', len(data)) + kind + data +
                struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff))

    row = b'\0' * (1 + (width + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    idat = b''.join(packer.compress(row) for _ in range(height))
    idat += packer.flush()
    header = struct.pack('>IIBBBBB', width, height, 1, 0, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) +
            chunk(b'IDAT', idat) + chunk(b'IEND', b''))


def write_odd_folder(folder) -> Tuple[Dict[str, str], np.ndarray]:
    """Write :data:`ODD_FILES` into ``folder``.

    Returns:
        tuple: ``(ODD_FILES, rgb)`` with ``rgb`` the (48, 64, 3) uint8 RGB
        pixels the good files hold (grayscale ones its first channel).
    """
    # smooth ramps: a JPEG keeps them within a few grey levels
    y, x = np.mgrid[0:48, 0:64]
    rgb = np.stack([x * 4, y * 5, (x + y) * 2], axis=2).astype(np.uint8)
    gray = rgb[..., 0]
    files = {
        'rgb.png': _encoded(Image.fromarray(rgb), 'PNG'),
        'gray.png': _encoded(Image.fromarray(gray), 'PNG'),
        # 16 bits: value * 257 maps back to value in 8 bits
        'gray16.png': _encoded(
            Image.fromarray(gray.astype(np.uint16) * 257), 'PNG'),
        'cmyk.jpg': _encoded(Image.fromarray(rgb).convert('CMYK'), 'JPEG'),
        'rgb.jpg': _encoded(Image.fromarray(rgb), 'JPEG'),
        'empty.png': b'',
        'huge.png': huge_png(20000, 20000),
        'fake.jpg': b'this is not a JPEG\n',
        'notes.txt': b'shift 2 notes\n',
        'labels.json': b'{}',
        'README': b'images of line 3\n',
    }
    files['truncated.png'] = files['rgb.png'][:len(files['rgb.png']) // 2]
    files['truncated.jpg'] = files['rgb.jpg'][:len(files['rgb.jpg']) * 2 //
                                              3]
    assert files.keys() == ODD_FILES.keys()
    for name, data in files.items():
        with open(osp.join(str(folder), name), 'wb') as f:
            f.write(data)
    return ODD_FILES, rgb
