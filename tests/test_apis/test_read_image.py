# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""read_image / expand_inputs on the files a user's folder may hold: every
file is either decoded to the right pixels or skipped with its reason."""
import os.path as osp
import threading
import time

import numpy as np
import pytest

from mmioc_rtvp.apis.inference_inputs import (MAX_IMAGE_PIXELS,
                                              expand_inputs, iter_images,
                                              iter_loaded, read_image)
from tests.test_apis.odd_images import (huge_png, write_odd_folder,
                                        write_video)


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


class _Pipeline:
    """A test pipeline stand-in: the image's shape and checksum, and the
    threads that ran it (shared by its per-thread copies)."""

    def __init__(self, fail_on_sum=None):
        self.threads = []
        self.fail_on_sum = fail_on_sum

    def __deepcopy__(self, memo):
        return self  # the copies record into one list

    def __call__(self, results):
        img = results['img']
        self.threads.append(threading.current_thread().name)
        if int(img.sum()) == self.fail_on_sum:
            raise RuntimeError('pipeline failed')
        return img.shape, int(img.sum())


def test_loader_threads_keep_order_and_skipped(odd, tmp_path):
    """Files, arrays, video frames and unreadable inputs mixed: with 0 or 2
    loader threads the same (item, pipeline output) pairs in the same
    order, the same skipped list in the same order."""
    folder, files, _ = odd
    video = write_video(str(tmp_path / 'line.avi'), 3)
    broken_video = tmp_path / 'broken.mp4'
    broken_video.write_bytes(b'not a video')
    inputs = [str(folder), np.zeros((8, 8, 3), np.uint8), video,
              str(broken_video), np.zeros((8, 8), np.uint8)]
    runs = {}
    for workers in (0, 2):
        skipped, pipeline = [], _Pipeline()
        pairs = [(item.name, out) for item, out in iter_loaded(
            expand_inputs(inputs), 1, skipped, pipeline, num_workers=workers,
            prefetch=2)]
        runs[workers] = pairs, skipped, set(pipeline.threads)
    assert runs[0][:2] == runs[2][:2]
    pairs, skipped, _ = runs[0]
    # files, 2 arrays, 3 frames, 1 unreadable video
    assert len(pairs) + len(skipped) == len(files) + 2 + 3 + 1
    assert [n for n, _ in pairs][-4:] == [
        'array_1', f'{video}#0', f'{video}#1', f'{video}#2']
    assert [n for n, _ in skipped][-2:] == [str(broken_video), 'array_4']
    assert runs[0][2] == {threading.current_thread().name}
    assert runs[2][2] and all(t.startswith('mmioc-loader')
                              for t in runs[2][2])


def test_loader_threads_bounded_and_errors_reach_the_caller(tmp_path):
    arrays = [np.full((4, 4, 3), i, np.uint8) for i in range(20)]
    pipeline = _Pipeline()
    loaded = iter_loaded(expand_inputs(arrays), 1, [], pipeline,
                         num_workers=2, prefetch=3)
    next(loaded)
    time.sleep(0.2)
    assert len(pipeline.threads) <= 3 + 2  # prefetch + workers ahead
    loaded.close()
    failing = _Pipeline(fail_on_sum=int(arrays[5].sum()))
    with pytest.raises(RuntimeError, match='pipeline failed'):
        list(iter_loaded(expand_inputs(arrays), 1, [], failing,
                         num_workers=2))
    with pytest.raises(ValueError, match='num_workers'):
        next(iter_loaded([], 1, [], failing, num_workers=-1))
