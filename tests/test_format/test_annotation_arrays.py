# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The format's one annotation-array type, made by its two readers."""
import warnings

import numpy as np
import pytest

from mmioc_rtvp.format.compact_annotations import (CompactAnnotations,
                                                   build_compact_annotations)
from mmioc_rtvp.format.io import AnnotationArrays, DatasetArrays


def small_file() -> dict:
    """3 images (one without boxes), 5 valid boxes of 2 classes, ids out of
    order, annotations not grouped by image."""
    images = [
        dict(id=30, file_name='c/30.jpg', width=40, height=20, scene='wood'),
        dict(id=10, file_name='a/10.jpg', width=32, height=24),
        dict(id=20, file_name='b/20.jpg', width=16, height=16, scene='metal'),
    ]
    boxes = [(10, 7, [1, 2, 5, 6]), (30, 8, [0, 0, 10, 4]),
             (10, 8, [3.5, 4, 2, 2]), (30, 7, [20, 10, 3, 3]),
             (10, 7, [0, 0, 32, 24])]
    annotations = [
        dict(id=100 + i, image_id=img, category_id=cat, bbox=box,
             area=box[2] * box[3])
        for i, (img, cat, box) in enumerate(boxes)
    ]
    categories = [dict(id=7, name='scratch'), dict(id=8, name='hole')]
    return dict(images=images, annotations=annotations, categories=categories)


def test_one_type_under_every_name():
    assert DatasetArrays is AnnotationArrays
    assert CompactAnnotations is AnnotationArrays
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        from mmioc_rtvp.datasets.compact_annotations import \
            CompactAnnotations as old_compact
        from mmioc_rtvp.toolkit.io import DatasetArrays as old_arrays
    assert old_compact is AnnotationArrays
    assert old_arrays is AnnotationArrays


def test_both_readers_agree_on_a_file_of_valid_boxes():
    data = small_file()
    whole = AnnotationArrays.from_dict(data, 'small.json')
    compact = build_compact_annotations(data['images'], data['annotations'],
                                        [7, 8], [0, 1], 'small.json')
    assert type(whole) is type(compact) is AnnotationArrays
    assert (whole.box_format, compact.box_format) == ('xywh', 'xyxy')
    for arrays in (whole, compact):
        np.testing.assert_array_equal(arrays.image_ids, [30, 10, 20])
        np.testing.assert_array_equal(arrays.widths, [40, 32, 16])
        np.testing.assert_array_equal(arrays.heights, [20, 24, 16])
        assert [arrays.image_scenes[c] if c >= 0 else None
                for c in arrays.image_scene] == ['wood', None, 'metal']
        np.testing.assert_array_equal(arrays.num_instances(), [2, 3, 0])
        assert arrays.num_images == 3 and arrays.num_annotations == 5
    # the file-order arrays, regrouped by image, are the compact ones
    order = np.argsort(whole.ann_image, kind='stable')
    xyxy = whole.bboxes[order].copy()
    xyxy[:, 2:] += xyxy[:, :2]
    np.testing.assert_array_equal(compact.bboxes, xyxy.astype(np.float32))
    np.testing.assert_array_equal(compact.ann_label, whole.ann_label[order])
    np.testing.assert_array_equal(compact.inst_offsets, [0, 2, 5, 5])
    assert [compact.file_name(i) for i in range(3)] == [
        'c/30.jpg', 'a/10.jpg', 'b/20.jpg']
    assert compact.box_counts['kept'] == compact.box_counts['input'] == 5
    assert whole.num_categories == 2 and whole.names == ['scratch', 'hole']


def test_former_attribute_names_read_the_same_arrays():
    data = small_file()
    compact = build_compact_annotations(data['images'], data['annotations'],
                                        [7, 8], [0, -1], 'small.json')
    assert compact.img_ids is compact.image_ids
    assert compact.scene_codes is compact.image_scene
    assert compact.scene_values is compact.image_scenes
    assert compact.labels is compact.ann_label
    np.testing.assert_array_equal(compact.labels, [0, 0, 0])


def test_a_field_the_reader_did_not_fill_is_named():
    data = small_file()
    whole = AnnotationArrays.from_dict(data, 'small.json')
    compact = build_compact_annotations(data['images'], data['annotations'],
                                        [7, 8], [0, 1], 'small.json')
    with pytest.raises(ValueError, match='no name_offsets'):
        whole.file_name(0)
    with pytest.raises(ValueError, match='no category_ids'):
        compact.num_categories
