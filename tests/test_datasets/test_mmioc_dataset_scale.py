# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The compact (array-based) MMIOCDataset against a straightforward
per-dict reference parser, and the chunked JSON reader behind it."""
import copy
import json
import os.path as osp
import pickle
from collections import defaultdict
from typing import Dict, List, Optional

import numpy as np
import pytest

from mmioc_rtvp.datasets import MMIOCDataset
from mmioc_rtvp.format.compact_annotations import (JsonArraySpan,
                                                   JsonSyntaxError,
                                                   build_compact_annotations,
                                                   scan_json_object)

# ----------------------------------------------------------------------
# reference: the per-dict parser the dataset used before the arrays
# ----------------------------------------------------------------------


def reference_data_list(content: dict,
                        img_prefix: str,
                        classes: Optional[List[str]] = None) -> List[dict]:
    """Data infos of every image, built record by record with plain dicts
    (the previous ``load_data_list`` + ``parse_data_info``)."""
    categories = content['categories']
    selected = [
        c['id'] for c in categories if classes is None or c['name'] in classes
    ]
    cat2label = {cat_id: label for label, cat_id in enumerate(selected)}
    anns_by_image: Dict[int, List[dict]] = defaultdict(list)
    for ann in content['annotations']:
        anns_by_image[ann['image_id']].append(ann)
    data_list = []
    for img in content['images']:
        width, height = img['width'], img['height']
        info = dict(
            img_path=osp.join(img_prefix, img['file_name']),
            img_id=img['id'],
            seg_map_path=None,
            height=height,
            width=width)
        if 'scene' in img:
            info['scene'] = img['scene']
        instances = []
        for ann in anns_by_image.get(img['id'], []):
            label = cat2label.get(ann['category_id'])
            if label is None or ann.get('ignore', False):
                continue
            x1, y1, w, h = ann['bbox']
            inter_w = max(0, min(x1 + w, width) - max(x1, 0))
            inter_h = max(0, min(y1 + h, height) - max(y1, 0))
            area = ann.get('area', w * h)
            if inter_w * inter_h == 0 or area <= 0 or w < 1 or h < 1:
                continue
            instances.append(
                dict(
                    bbox=[x1, y1, x1 + w, y1 + h],
                    bbox_label=label,
                    ignore_flag=1 if ann.get('iscrowd', False) else 0))
        info['instances'] = instances
        data_list.append(info)
    return data_list


def reference_filter(data_list: List[dict], filter_empty_gt: bool,
                     min_size: float) -> List[dict]:
    return [
        info for info in data_list
        if (info['instances'] or not filter_empty_gt)
        and min(info['width'], info['height']) >= min_size
    ]


def as_stored(info: dict) -> dict:
    """The reference info with float32 boxes (the compact storage; what
    ``LoadAnnotations`` makes of any box)."""
    out = dict(info)
    out['instances'] = [
        dict(inst, bbox=np.array(inst['bbox'], np.float32).tolist())
        for inst in info['instances']
    ]
    return out


def random_content(seed: int = 0, num_images: int = 60) -> dict:
    """A random MMIOC file with every corner case of the parser: ids out of
    order and non-contiguous, crowd, ignored, degenerate and out-of-image
    boxes, float coordinates, missing areas, defect-free images, images
    without a scene, names with brackets, quotes and non-ASCII text."""
    rng = np.random.RandomState(seed)
    cat_ids = [int(i) for i in rng.permutation(200)[:7] + 1]
    categories = [
        dict(
            id=cid,
            name=f'class {k} [x]',
            supercategory=f'super {k % 2}',
            scene=f'scene {k % 3}',
            texts=[f'class {k}', f'a "{k}" defect'])
        for k, cid in enumerate(cat_ids)
    ]
    image_ids = [int(i) for i in rng.permutation(10 * num_images)[:num_images]]
    weird = ['a]b{c.png', 'q"uote".png', 'back\\slash}.png', 'défaut_é.png']
    images = []
    for k, img_id in enumerate(image_ids):
        img = dict(
            id=img_id,
            file_name=f'dir_{k % 4}/{weird[k % 4] if k % 5 == 0 else k}.png',
            width=int(rng.randint(20, 120)),
            height=int(rng.randint(20, 120)))
        if k % 3:
            img['scene'] = f'scene "{k % 4}"'
        images.append(img)
    annotations = []
    for a in range(5 * num_images):
        img = images[rng.randint(num_images - num_images // 5)]  # tail: none
        x, y = (
            rng.uniform(-20, 130, 2) if rng.rand() < 0.5 else rng.randint(
                -10, 110, 2))
        w, h = (
            rng.uniform(0, 60, 2) if rng.rand() < 0.5 else rng.randint(
                0, 60, 2))
        if rng.rand() < 0.1:  # sub-pixel side: skipped
            w = np.float64(rng.uniform(0.1, 1))
        ann = dict(
            id=int(10 * a + 3),
            image_id=img['id'],
            category_id=cat_ids[rng.randint(7)],
            bbox=[v.item() for v in (x, y, w, h)])
        if rng.rand() < 0.8:
            ann['area'] = float(w * h) if rng.rand() < 0.95 else 0.0
        if rng.rand() < 0.6:
            ann['iscrowd'] = int(rng.rand() < 0.2)
        if rng.rand() < 0.05:
            ann['ignore'] = True
        annotations.append(ann)
    rng.shuffle(annotations)
    return dict(
        info=dict(description='random [test]', version='1'),
        images=images,
        annotations=annotations,
        categories=categories)


@pytest.fixture
def random_mmioc(make_mmioc):
    content = random_content()
    return make_mmioc(
        name='random',
        categories=content['categories'],
        images=content['images'],
        annotations=content['annotations'],
        write_images=False)


def build(paths, **kwargs) -> MMIOCDataset:
    return MMIOCDataset(
        data_root=paths.root, ann_file=paths.ann_file, **kwargs)


def infos(dataset) -> List[dict]:
    out = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        assert info.pop('sample_idx') == i
        out.append(info)
    return out


# ----------------------------------------------------------------------
# equality with the reference
# ----------------------------------------------------------------------
def test_random_file_matches_reference(random_mmioc):
    dataset = build(random_mmioc)
    expected = reference_data_list(random_mmioc.content,
                                   osp.join(random_mmioc.root, 'images/'))
    # the random file exercises what it should
    all_instances = [i for info in expected for i in info['instances']]
    assert any(i['ignore_flag'] for i in all_instances)
    assert any(not info['instances'] for info in expected)
    assert any('scene' not in info for info in expected)
    assert len(all_instances) < len(random_mmioc.content['annotations'])
    assert sum(0 < a['bbox'][2] < 1
               for a in random_mmioc.content['annotations']) > 10
    got = infos(dataset)
    assert got == [as_stored(info) for info in expected]
    # the kept boxes are the reference's, up to float32 storage
    assert np.allclose([i['bbox'] for info in got for i in info['instances']],
                       [i['bbox'] for i in all_instances],
                       rtol=1e-6)
    assert dataset.get_cat_ids(3) == [
        i['bbox_label'] for i in expected[3]['instances']
    ]
    # the read-only data_list view gives the same dicts
    assert list(dataset.data_list) == got
    assert dataset.data_list[-1] == got[-1]
    assert dataset.load_data_list() == got


@pytest.mark.parametrize('classes', [('class 5 [x]', 'class 1 [x]'),
                                     ('class 0 [x]', )])
@pytest.mark.parametrize('filter_cfg', [
    None,
    dict(filter_empty_gt=True),
    dict(filter_empty_gt=False, min_size=60),
    dict(filter_empty_gt=True, min_size=50)
])
def test_class_subsets_and_filters_match_reference(random_mmioc, classes,
                                                   filter_cfg):
    dataset = build(
        random_mmioc, metainfo=dict(classes=classes), filter_cfg=filter_cfg)
    expected = reference_data_list(random_mmioc.content,
                                   osp.join(random_mmioc.root, 'images/'),
                                   list(classes))
    if filter_cfg is not None:
        expected = reference_filter(expected,
                                    filter_cfg.get('filter_empty_gt', False),
                                    filter_cfg.get('min_size', 0))
    assert infos(dataset) == [as_stored(info) for info in expected]
    assert len(dataset) < len(random_mmioc.content['images']) or \
        filter_cfg is None
    # nothing is filtered in test mode
    test = build(
        random_mmioc,
        metainfo=dict(classes=classes),
        filter_cfg=filter_cfg,
        test_mode=True)
    assert len(test) == len(random_mmioc.content['images'])


def test_chunked_reader_matches_whole_parse(random_mmioc):
    """Tiny numpy blocks and chunks: every block and chunk boundary falls
    somewhere awkward (inside strings, after backslashes)."""
    with open(random_mmioc.ann_path, 'rb') as f:
        text = f.read()
    # pretty-printed, with the categories first
    content = random_mmioc.content
    reordered = dict(
        categories=content['categories'],
        info=content['info'],
        annotations=content['annotations'],
        images=content['images'])
    pretty = json.dumps(reordered, indent=2, ensure_ascii=False).encode()
    cat_ids = [c['id'] for c in content['categories']]
    labels = list(range(len(cat_ids)))
    reference = build_compact_annotations(content['images'],
                                          content['annotations'], cat_ids,
                                          labels, 'dict', 16)
    for data in (text, pretty):
        for block_size in (7, 64, 1 << 20):
            members = scan_json_object(data, 'test', block_size=block_size)
            assert list(members)[-2:] in (['annotations', 'categories'],
                                          ['annotations', 'images'])
            assert members['categories'] == content['categories']
            assert members['info'] == content['info']
            spans = members['images'], members['annotations']
            assert all(isinstance(s, JsonArraySpan) for s in spans)
            assert [r for _, chunk in spans[0].iter_chunks(7)
                    for r in chunk] == content['images']
            compact = build_compact_annotations(
                *spans, cat_ids, labels, 'test', chunk_size=5)
            for name in reference.__dataclass_fields__:
                got, want = getattr(compact, name), getattr(reference, name)
                if isinstance(want, np.ndarray):
                    assert got.dtype == want.dtype and np.array_equal(
                        got, want), name
                else:
                    assert got == want, name
    assert reference.file_name(0) == content['images'][0]['file_name']
    # images 1, 2, 4, 7 bring new scenes; 0, 3, 6 have none
    assert reference.scene_values == ('scene "1"', 'scene "2"', 'scene "0"',
                                      'scene "3"')
    assert reference.scene_codes[:8].tolist() == [-1, 0, 1, -1, 2, 0, -1, 3]


def test_scanner_strings_and_escapes():
    text = (b' {"a]": "}{[", "k\\"]": [1, {"x": "\\\\"}], "images": '
            b'[ {"s": "\\"]}"} , [2] ], "annotations": [], "n": null} ')
    for block_size in (1, 2, 3, 5, 1 << 10):
        members = scan_json_object(text, 'test', block_size=block_size)
        assert members['a]'] == '}{['
        assert members['k"]'] == [1, {'x': '\\'}]
        assert members['n'] is None
        assert [r for _, c in members['images'].iter_chunks(1)
                for r in c] == [{
                    's': '"]}'
                }, [2]]
        assert list(members['annotations'].iter_chunks()) == []


@pytest.mark.parametrize('text', [
    b'{"images": [', b'{"images": []} x', b'{"a": "unterminated}',
    b'{"a": [1}, "b": 2]', b'{"a": 1 "b": 2}', b'{"a": [1]}}', b'', b'[]',
    b'{"a": 1} {"b": 2}'
])
def test_scanner_rejects_malformed(text):
    with pytest.raises(JsonSyntaxError):
        scan_json_object(text, 'test', block_size=4)


def test_malformed_record_inside_an_array():
    members = scan_json_object(b'{"images": [{"id": 1}, {"id": 2,}]}', 't')
    with pytest.raises(JsonSyntaxError, match="'images' elements 0..1"):
        list(members['images'].iter_chunks())
    members = scan_json_object(b'{"images": [{"id": 1}, 5]}', 't')
    with pytest.raises(ValueError, match="t: 'images' holds a value that"):
        list(members['images'].iter_chunks())


# ----------------------------------------------------------------------
# dataset behaviour
# ----------------------------------------------------------------------
def test_indices_and_subsets(random_mmioc):
    full = infos(build(random_mmioc))
    assert infos(build(random_mmioc, indices=5)) == full[:5]
    assert infos(build(random_mmioc, indices=-4)) == full[-4:]
    assert infos(build(random_mmioc, indices=[7, 2, -1])) == \
        [full[7], full[2], full[-1]]
    dataset = build(random_mmioc)
    subset = dataset.get_subset([3, 1])
    assert infos(subset) == [full[3], full[1]]
    assert subset._annotations is dataset._annotations  # shared, not copied
    assert len(dataset) == len(full)
    dataset.get_subset_(-2)
    assert infos(dataset) == full[-2:]
    with pytest.raises(IndexError, match='index 99 out of range'):
        dataset.get_subset_([99])
    with pytest.raises(IndexError):
        dataset.get_data_info(2)


def test_batch_shapes_then_filter(random_mmioc):
    """Batch shapes are computed on every image (MMYOLO's order), then the
    filter drops samples, keeping each survivor's batch shape."""
    cfg = dict(
        type='BatchShapePolicy',
        batch_size=4,
        img_size=64,
        size_divisor=32,
        extra_pad_ratio=0.5)
    unfiltered = build(random_mmioc, batch_shapes_cfg=cfg)
    shape_of = {
        info['img_id']: info['batch_shape'].tolist()
        for info in infos(unfiltered)
    }
    ratios = [info['height'] / info['width'] for info in infos(unfiltered)]
    assert ratios == sorted(ratios)
    filtered = build(
        random_mmioc,
        batch_shapes_cfg=cfg,
        filter_cfg=dict(filter_empty_gt=True))
    got = infos(filtered)
    assert 0 < len(got) < len(shape_of)
    assert all(info['instances'] for info in got)
    assert all(info['batch_shape'].tolist() == shape_of[info['img_id']]
               for info in got)
    # each call returns a fresh array
    first = filtered.get_data_info(0)['batch_shape']
    first[:] = 0
    assert filtered.get_data_info(0)['batch_shape'].tolist() != [0, 0]


def test_lazy_init_and_pickling(random_mmioc):
    lazy = build(random_mmioc, lazy_init=True)
    assert not lazy._fully_initialized and lazy._annotations is None
    assert list(lazy.data_list) == []
    expected = infos(build(random_mmioc))
    assert infos(lazy) == expected
    copy = pickle.loads(pickle.dumps(lazy))
    assert infos(copy) == expected


def test_arrays_hold_no_python_objects(random_mmioc):
    """What lets forked workers share one copy: the annotations are a few
    numpy arrays of plain numbers, not a Python object per record."""
    ann = build(random_mmioc)._annotations
    arrays = [
        getattr(ann, name) for name in ann.__dataclass_fields__
        if isinstance(getattr(ann, name), np.ndarray)
    ]
    assert len(arrays) == 10
    assert all(a.dtype.kind in 'iuf' for a in arrays)
    assert ann.bboxes.dtype == np.float32 and ann.bboxes.shape[1] == 4


def test_dataloader_workers_read_the_same_infos(random_mmioc):
    from torch.utils.data import DataLoader
    dataset = build(random_mmioc)

    class Infos:

        def __len__(self):
            return len(dataset)

        def __getitem__(self, idx):
            return dataset.get_data_info(idx)

    loader = DataLoader(
        Infos(),
        batch_size=8,
        num_workers=2,
        collate_fn=list,
        multiprocessing_context='fork')
    got = [info for batch in loader for info in batch]
    assert got == [dataset.get_data_info(i) for i in range(len(dataset))]


# ----------------------------------------------------------------------
# errors
# ----------------------------------------------------------------------
def test_errors_name_the_record(make_mmioc, mmioc_defaults):

    def fresh(key):
        return copy.deepcopy(mmioc_defaults[key])

    images = fresh('images')
    del images[1]['width']
    paths = make_mmioc(name='a', images=images, write_images=False)
    with pytest.raises(ValueError) as e:
        build(paths)
    assert str(e.value) == f"{paths.ann_path}: image id 2 has no 'width'"

    images = fresh('images')
    images[2]['id'] = 1
    paths = make_mmioc(name='b', images=images, write_images=False)
    with pytest.raises(ValueError, match='duplicate image id 1$'):
        build(paths)

    anns = fresh('annotations')
    anns[3]['id'] = 1
    paths = make_mmioc(name='c', annotations=anns, write_images=False)
    with pytest.raises(ValueError, match='duplicate annotation id 1$'):
        build(paths)

    anns = fresh('annotations')
    anns[2]['bbox'] = [1, 2, 3]
    del anns[4]['id']
    del anns[4]['bbox']
    paths = make_mmioc(name='d', annotations=anns, write_images=False)
    with pytest.raises(ValueError) as e:
        build(paths)
    assert str(e.value) == (f'{paths.ann_path}: annotation id #4 (no id) '
                            "has no 'bbox'")
    del anns[4]
    paths = make_mmioc(name='e', annotations=anns, write_images=False)
    with pytest.raises(ValueError) as e:
        build(paths)
    assert str(e.value) == (f'{paths.ann_path}: annotation id 3: bbox must '
                            'be [x, y, w, h], got [1, 2, 3]')

    images = fresh('images')
    images[0]['id'] = 'one'
    paths = make_mmioc(name='f', images=images, write_images=False)
    with pytest.raises(ValueError, match="image id 'one' is not an integer"):
        build(paths)


def test_non_object_files(mmioc):
    with open(mmioc.ann_path, 'w') as f:
        json.dump([1, 2], f)
    with pytest.raises(ValueError) as e:
        build(mmioc)
    assert str(e.value) == (f'{mmioc.ann_path}: the annotation file must '
                            'hold a JSON object, got list')
    with open(mmioc.ann_path, 'w') as f:
        f.write('{"images": [1], "categories": ')
        json.dump(mmioc.content['categories'], f)
        f.write('}')
    with pytest.raises(ValueError, match="'images' holds a value that is "):
        build(mmioc)
