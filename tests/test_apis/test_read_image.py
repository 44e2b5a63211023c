# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""read_image / expand_inputs on the files a user's folder may hold: every
file is either decoded to the right pixels or skipped with its reason."""
import os.path as osp

import numpy as np
import pytest

from mmioc_rtvp.apis.inference_inputs import (MAX_IMAGE_PIXELS,
                                              expand_inputs, iter_images,
                                              read_image)
from tests.test_apis.odd_images import huge_png, write_odd_folder


@pytest.fixture(scope='module')
def odd(tmp_path_factory):
    folder = tmp_path_factory.mktemp('odd')
    files, rgb = write_odd_folder(folder)
    return folder, files, rgb


def test_formats_decode_to_bgr_pixels(odd):
    folder, _, rgb = odd
    bgr = rgb[..., ::-1]
    assert np.array_equal(read_image(str(folder / 'rgb.png')), bgr)
    gray3 = np.repeat(rgb[..., :1], 3, axis=2)
    assert np.array_equal(read_image(str(folder / 'gray.png')), gray3)
    # 16 bits scaled to 8 (v * 257 -> v)
    assert np.array_equal(read_image(str(folder / 'gray16.png')), gray3)
    for name in ('cmyk.jpg', 'rgb.jpg'):  # lossy: close, right channels
        img = read_image(str(folder / name))
        assert img.shape == (48, 64, 3) and img.dtype == np.uint8
        assert np.abs(img.astype(int) - bgr).mean() < 3, name


def test_huge_image_refused_from_its_header(odd):
    folder, _, _ = odd
    assert osp.getsize(folder / 'huge.png') < 2**20
    with pytest.raises(OSError, match='400000000 pixels is over the limit '
                       f'of {MAX_IMAGE_PIXELS}'):
        read_image(str(folder / 'huge.png'))
    # under a larger limit it is a valid image (the limit is what refuses)
    small = folder.parent / 'small_huge.png'
    small.write_bytes(huge_png(300, 200))
    assert read_image(str(small), max_pixels=60_000).shape == (200, 300, 3)
    with pytest.raises(OSError, match='60000 pixels is over'):
        read_image(str(small), max_pixels=59_999)


def test_every_file_of_a_folder_is_processed_or_skipped(odd):
    folder, files, _ = odd
    items = expand_inputs(str(folder))
    skipped = []
    read = [it.name for it in iter_images(items, 1, skipped)]
    assert len(read) + len(skipped) == len(files)
    assert sorted(osp.basename(n) for n in read) == sorted(
        n for n, reason in files.items() if reason is None)
    for name, reason in skipped:
        expected = files[osp.basename(name)]
        assert expected is not None and expected in reason, (name, reason)
