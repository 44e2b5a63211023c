# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""MVTec-style masks -> MMIOC: components -> boxes, good images."""
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mmioc_rtvp.builders.converters import MVTecConverter
from mmioc_rtvp.builders.converters.base_converter import mask_components
from tests.test_builders.test_converters.builders import (boxes_by_image,
                                                          check_reconciled,
                                                          entries,
                                                          read_outputs,
                                                          save_image,
                                                          write_mapping)

W, H = 64, 48
MAPPING = {
    'bottle/broken':
    dict(
        supercategory='plastic',
        scene='bottle',
        name='broken bottle',
        texts=['broken bottle']),
    'bottle/crack':
    dict(
        supercategory='plastic',
        scene='bottle',
        name='crack on bottle',
        texts=['crack on bottle', 'cracked bottle']),
}


def save_mask(path, rects, mode='L', size=(W, H)):
    """A mask with the given filled (x0, y0, x1, y1) inclusive rectangles."""
    arr = np.zeros((size[1], size[0]), dtype=np.uint8)
    for x0, y0, x1, y1 in rects:
        arr[y0:y1 + 1, x0:x1 + 1] = 255
    os.makedirs(osp.dirname(path), exist_ok=True)
    if mode == 'I;16':
        Image.fromarray(arr.astype(np.uint16) * 257).save(path)
    elif mode == 'RGB':
        Image.fromarray(np.stack([arr, 0 * arr, 0 * arr], axis=2)).save(path)
    else:
        Image.fromarray(arr).save(path)
    return path


def convert(tmp_path, root, name='mvtec', **kwargs):
    out = str(tmp_path / 'out')
    MVTecConverter(
        root,
        mapping=write_mapping(str(tmp_path / 'm.json'), classes=MAPPING),
        out_dir=out,
        name=name,
        **kwargs).convert()
    ann, rep = read_outputs(out, name)
    check_reconciled(rep, ann)
    return ann, rep


@pytest.mark.parametrize('mask_mode', ['L', 'RGB', 'I;16'])
def test_two_blobs_two_boxes_and_good_images(tmp_path, mask_mode):
    root = str(tmp_path / 'mvtec')
    cat = osp.join(root, 'bottle')
    save_image(osp.join(cat, 'test', 'broken', '000.png'), W, H)
    # blob 1: columns 10..19, rows 5..9; blob 2: columns 40..50, rows 30..36
    save_mask(
        osp.join(cat, 'ground_truth', 'broken', '000_mask.png'),
        [(10, 5, 19, 9), (40, 30, 44, 36), (45, 36, 50, 36)],
        mode=mask_mode)
    save_image(osp.join(cat, 'test', 'good', '000.png'), W, H, seed=1)
    save_image(osp.join(cat, 'train', 'good', '000.png'), W, H, seed=2)
    ann, rep = convert(tmp_path, root)
    assert boxes_by_image(ann) == {
        'bottle/test/broken/000.png':
        [('broken bottle', [10.0, 5.0, 10.0, 5.0]),
         ('broken bottle', [40.0, 30.0, 11.0, 7.0])],
        'bottle/test/good/000.png': [],
        'bottle/train/good/000.png': [],
    }
    # good images are kept with the scene of the bottle classes
    assert {im['scene'] for im in ann['images']} == {'bottle'}
    assert rep['summary']['defect_free_images'] == 2
    assert rep['summary']['input_boxes'] == 2
    ann, _ = convert(tmp_path, root, name='no_train', include_train_good=False)
    assert 'bottle/train/good/000.png' not in boxes_by_image(ann)


def test_single_category_root(tmp_path):
    cat = str(tmp_path / 'bottle')
    save_image(osp.join(cat, 'test', 'crack', '003.png'), W, H)
    save_mask(
        osp.join(cat, 'ground_truth', 'crack', '003_mask.png'), [(0, 0, 3, 2)])
    ann, _ = convert(tmp_path, cat)
    assert boxes_by_image(ann) == {
        'bottle/test/crack/003.png': [('crack on bottle', [0.0, 0.0, 4.0,
                                                           3.0])]
    }


def test_mask_problems(tmp_path):
    root = str(tmp_path / 'mvtec')
    cat = osp.join(root, 'bottle')
    save_image(osp.join(cat, 'test', 'broken', '000.png'), W, H)
    save_mask(
        osp.join(cat, 'ground_truth', 'broken', '000_mask.png'),
        [(1, 1, 2, 2)])
    # defect image without a mask; with an empty mask
    save_image(osp.join(cat, 'test', 'crack', '001.png'), W, H)
    save_image(osp.join(cat, 'test', 'crack', '002.png'), W, H)
    save_mask(osp.join(cat, 'ground_truth', 'crack', '002_mask.png'), [])
    # a mask without its image: 2 components -> 2 rejected boxes
    save_mask(
        osp.join(cat, 'ground_truth', 'crack', '009_mask.png'),
        [(0, 0, 1, 1), (10, 10, 12, 12)])
    # an unmapped defect type
    save_image(osp.join(cat, 'test', 'scuff', '000.png'), W, H)
    save_mask(
        osp.join(cat, 'ground_truth', 'scuff', '000_mask.png'), [(5, 5, 6, 6)])
    ann, rep = convert(tmp_path, root)
    assert sorted(boxes_by_image(ann)) == ['bottle/test/broken/000.png']
    assert entries(rep, 'missing_image') == [
        ('bottle/ground_truth/crack/009_mask.png', 'component 1'),
        ('bottle/ground_truth/crack/009_mask.png', 'component 2')
    ]
    assert entries(rep, 'unknown_class') == [
        ('bottle/ground_truth/scuff/000_mask.png', 'component 1')
    ]
    assert sorted(
        (r['image'], r['reason']) for r in rep['rejected_images']) == [
            ('bottle/ground_truth/crack/009_mask.png', 'missing_image'),
            ('bottle/test/crack/001.png', 'missing_annotation'),
            ('bottle/test/crack/002.png', 'missing_annotation'),
            ('bottle/test/scuff/000.png', 'all_boxes_rejected'),
        ]


def test_mask_size_mismatch_is_reported(tmp_path):
    cat = str(tmp_path / 'bottle')
    save_image(osp.join(cat, 'test', 'crack', '000.png'), W, H)
    save_mask(
        osp.join(cat, 'ground_truth', 'crack', '000_mask.png'),
        [(60, 40, 79, 49)],
        size=(80, 50))
    ann, rep = convert(tmp_path, cat)
    assert rep['size_mismatches'] == [
        dict(
            image='bottle/test/crack/000.png',
            file='bottle/ground_truth/crack/000_mask.png',
            annotated=[80, 50],
            actual=[W, H])
    ]
    # x 60..80 / y 40..50 clipped to the 64 x 48 image
    assert boxes_by_image(ann)['bottle/test/crack/000.png'] == [
        ('crack on bottle', [60.0, 40.0, 4.0, 8.0])
    ]


def test_mask_components_eight_connectivity(tmp_path):
    arr = np.zeros((10, 12), dtype=np.uint8)
    arr[2, 2] = arr[3, 3] = arr[4, 4] = 1  # a diagonal: one component
    arr[7:9, 8:12] = 200  # a 4 x 2 bar
    path = str(tmp_path / 'm.png')
    Image.fromarray(arr).save(path)
    size, boxes = mask_components(path)
    assert size == (12, 10)
    assert boxes == [[2, 2, 3, 3], [8, 7, 4, 2]]
