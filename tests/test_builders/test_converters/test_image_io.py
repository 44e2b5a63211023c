# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Image probing (size, integrity), output placement and hashing."""
import hashlib
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mmioc_rtvp.builders.converters import (ImageError, YOLOConverter,
                                           hash_file, probe_image)
from mmioc_rtvp.builders.converters.image_io import place_image
from tests.test_builders.test_converters.builders import (read_outputs,
                                                          save_image,
                                                          write_bytes,
                                                          write_mapping,
                                                          write_text)


@pytest.mark.parametrize('mode, suffix', [('L', '.png'), ('RGBA', '.png'),
                                          ('I;16', '.png'), ('RGB', '.jpg'),
                                          ('L', '.jpg'), ('RGB', '.bmp')])
@pytest.mark.parametrize('check', ['header', 'fast', 'decode'])
def test_probe_modes(tmp_path, mode, suffix, check):
    path = save_image(str(tmp_path / f'img{suffix}'), 37, 21, mode=mode)
    probe = probe_image(path, check)
    assert (probe.width, probe.height) == (37, 21)
    assert probe.mode == mode
    assert probe.exif_orientation == 1


def truncated(tmp_path, suffix):
    path = save_image(str(tmp_path / f'full{suffix}'), 64, 48)
    with open(path, 'rb') as f:
        data = f.read()
    return write_bytes(str(tmp_path / f'cut{suffix}'), data[:len(data) // 2])


@pytest.mark.parametrize('suffix', ['.jpg', '.png', '.bmp'])
def test_truncated_images(tmp_path, suffix):
    path = truncated(tmp_path, suffix)
    # the header alone does not see the truncation (the documented trade-off)
    assert probe_image(path, 'header').width == 64
    for check in ('fast', 'decode'):
        with pytest.raises(ImageError) as info:
            probe_image(path, check)
        assert info.value.reason == 'corrupt_image'
        assert 'truncated' in info.value.detail


def test_not_an_image_and_missing(tmp_path):
    path = write_bytes(str(tmp_path / 'x.png'), b'\x89PNG but not really')
    with pytest.raises(ImageError, match='corrupt_image'):
        probe_image(path, 'header')
    with pytest.raises(ImageError, match='missing_image'):
        probe_image(str(tmp_path / 'none.png'))
    with pytest.raises(ValueError, match='check must be one of'):
        probe_image(path, 'full')


def test_jpeg_with_appended_bytes_is_accepted(tmp_path):
    path = save_image(str(tmp_path / 'a.jpg'), 64, 48)
    with open(path, 'ab') as f:
        f.write(b'trailing data written by some camera')
    # no end marker at the end -> decoded -> fine
    assert probe_image(path, 'fast').width == 64


def test_exif_orientation_is_reported(tmp_path):
    root = str(tmp_path / 'src')
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees
    os.makedirs(osp.join(root, 'images'))
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(
        osp.join(root, 'images', 'r.jpg'), exif=exif)
    assert probe_image(osp.join(root, 'images', 'r.jpg')).exif_orientation \
        == 6
    write_text(osp.join(root, 'classes.txt'), 'scratch\n')
    out = str(tmp_path / 'out')
    YOLOConverter(
        root,
        mapping=write_mapping(str(tmp_path / 'm.json')),
        out_dir=out,
        name='r').convert()
    ann, rep = read_outputs(out, 'r')
    assert rep['exif_rotated'] == ['images/r.jpg']
    # the stored (not rotated) size is recorded
    assert (ann['images'][0]['width'], ann['images'][0]['height']) == (30, 20)


def test_place_image_modes_never_write_the_source(tmp_path):
    src = save_image(str(tmp_path / 'src' / 'a.png'), 8, 8)
    with open(src, 'rb') as f:
        original = f.read()
    dst = str(tmp_path / 'out' / 'sub' / 'a.png')
    assert place_image(src, dst, 'hardlink') == 'hardlink'
    assert os.stat(dst).st_ino == os.stat(src).st_ino
    assert place_image(src, dst, 'hardlink') == 'kept'
    # copy over the hard link: a new file, not a write through the link
    assert place_image(src, dst, 'copy') == 'copy'
    assert os.stat(dst).st_ino != os.stat(src).st_ino
    assert place_image(src, dst, 'copy') == 'kept'
    assert place_image(src, dst, 'symlink') == 'symlink'
    assert os.readlink(dst) == osp.abspath(src)
    assert place_image(src, dst, 'symlink') == 'kept'
    assert place_image(src, dst, 'copy') == 'copy'
    assert not osp.islink(dst)
    with open(src, 'rb') as f:
        assert f.read() == original
    with open(dst, 'rb') as f:
        assert f.read() == original
    assert [n for n in os.listdir(osp.dirname(dst))] == ['a.png']
    with pytest.raises(ValueError, match='image mode'):
        place_image(src, dst, 'move')


def test_hash_file(tmp_path):
    data = os.urandom(3 << 20)  # spans several read blocks
    path = write_bytes(str(tmp_path / 'blob'), data)
    assert hash_file(path) == hashlib.sha1(data).hexdigest()
    assert hash_file(path, 'sha256') == hashlib.sha256(data).hexdigest()
