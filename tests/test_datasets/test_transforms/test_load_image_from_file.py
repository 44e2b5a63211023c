# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""LoadImageFromFile: unreadable images become a replaced sample; EXIF
orientation is ignored, as the converters ignore it."""
import json

import cv2
import numpy as np
import pytest
from mmcv.transforms import LoadImageFromFile as MMCVLoadImageFromFile
from PIL import Image

from mmioc_rtvp.datasets.transforms import LoadImageFromFile, image_defect
from mmioc_rtvp.datasets.transforms.load_image_from_file import \
    BAD_DATA_LEDGER_ENV
from mmioc_rtvp.registry import TRANSFORMS


def _image(h=24, w=40, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((h, w, 3)) * 255).astype(np.uint8)


@pytest.fixture
def files(tmp_path):
    """A good JPEG and PNG, their truncated copies, garbage, an empty file."""
    paths = {}
    for ext in ('jpg', 'png'):
        good = tmp_path / f'good.{ext}'
        cv2.imwrite(str(good), _image())
        paths[ext] = str(good)
        data = good.read_bytes()
        cut = tmp_path / f'truncated.{ext}'
        cut.write_bytes(data[:len(data) // 2])
        paths[f'truncated_{ext}'] = str(cut)
    (tmp_path / 'garbage.jpg').write_bytes(b'this is not an image' * 10)
    paths['garbage'] = str(tmp_path / 'garbage.jpg')
    (tmp_path / 'empty.png').write_bytes(b'')
    paths['empty'] = str(tmp_path / 'empty.png')
    paths['missing'] = str(tmp_path / 'missing.jpg')
    return paths


def test_registered_under_mmcv_name_in_our_scope():
    assert TRANSFORMS.get('LoadImageFromFile') is LoadImageFromFile
    assert issubclass(LoadImageFromFile, MMCVLoadImageFromFile)


@pytest.mark.parametrize('ext', ['jpg', 'png'])
def test_good_images_load_as_opencv_reads_them(files, ext):
    out = LoadImageFromFile()(dict(img_path=files[ext]))
    expected = cv2.imread(files[ext])
    assert np.array_equal(out['img'], expected)
    assert out['img_shape'] == out['ori_shape'] == (24, 40)


@pytest.mark.parametrize('key', ['truncated_jpg', 'garbage', 'missing'])
def test_the_parent_ends_the_run(files, key):
    """What this class changes: MMCV's loader raises (an AssertionError for
    an image OpenCV cannot decode), which stops a training run."""
    with pytest.raises((AssertionError, FileNotFoundError)):
        MMCVLoadImageFromFile()(dict(img_path=files[key]))


@pytest.mark.parametrize('key, reason', [
    ('truncated_jpg', 'truncated JPEG'),
    ('truncated_png', 'truncated PNG'),
    ('garbage', 'cannot decode'),
    ('empty', 'empty file'),
    ('missing', 'file not found'),
])
def test_unreadable_image_is_replaced_and_recorded(files, tmp_path,
                                                   monkeypatch, key, reason):
    ledger = tmp_path / 'ledger.jsonl'
    monkeypatch.setenv(BAD_DATA_LEDGER_ENV, str(ledger))
    loader = LoadImageFromFile()
    assert loader(dict(img_path=files[key])) is None
    assert loader(dict(img_path=files[key])) is None
    entries = [json.loads(line) for line in ledger.read_text().splitlines()]
    # every replacement is recorded (the hook logs each path once)
    assert [e['path'] for e in entries] == [files[key]] * 2
    assert entries[0]['reason'].startswith(reason)


def test_unreadable_image_raises_when_not_replaced(files):
    loader = LoadImageFromFile(replace_unreadable=False)
    with pytest.raises(OSError, match='truncated.jpg.*truncated JPEG'):
        loader(dict(img_path=files['truncated_jpg']))


def test_image_defect_accepts_padding_and_data_after_eoi(files):
    """Older OpenCV builds decode a truncated JPEG with grey rows and no
    error; the end-marker check catches it whatever OpenCV does."""
    with open(files['jpg'], 'rb') as f:
        data = f.read()
    assert image_defect(data) is None
    assert image_defect(data[:-2]).startswith('truncated JPEG')
    assert image_defect(data + b'\x00\x00\n') is None
    # data appended after EOI: the full decode decides, and it succeeds
    assert image_defect(data + b'trailer') is None
    assert image_defect(b'') == 'empty file'
    assert image_defect(b'GIF89a....') is None  # other formats: not checked


def test_exif_orientation_is_ignored(tmp_path):
    """A JPEG stored 40 x 24 with EXIF orientation 6 (rotate 90 degrees):
    MMCV's default loader rotates it to 24 x 40, ours keeps the stored
    layout, the one the converters write width, height and boxes in."""
    stored = _image()
    stored[4:8, 30:36] = 255  # a white patch at x 30..35, y 4..7
    path = str(tmp_path / 'rotated.jpg')
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored[:, :, ::-1]).save(path, exif=exif, quality=95)
    ours = LoadImageFromFile()(dict(img_path=path))['img']
    theirs = MMCVLoadImageFromFile()(dict(img_path=path))['img']
    assert ours.shape == (24, 40, 3)
    assert theirs.shape == (40, 24, 3)
    assert ours[4:8, 30:36].min() > 200
