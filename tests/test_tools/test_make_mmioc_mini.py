# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Tests of the MMIOC-mini generator (module and command line)."""
import contextlib
import importlib.util
import io
import json
import os
import os.path as osp
from collections import Counter, defaultdict

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

from mmioc_rtvp.builders.mmioc_mini import (
    BOX_MARGIN, DEFECTS, MATERIALS, SPLIT_NAMES, SPLIT_VOCABULARY, TEXT_FILES,
    check_params, generate_mmioc_mini, make_stain, mask_to_bbox,
    mmioc_mini_classes, plan_mmioc_mini, render_image, render_planned_image,
    split_closed)

NUM_IMAGES = 72
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO_ROOT, 'tools', 'misc', 'make_mmioc_mini.py')


def load_json(root, rel):
    with open(osp.join(root, rel), encoding='utf-8') as f:
        return json.load(f)


def all_files(root):
    """{relative path: bytes} of every file under root."""
    out = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                out[osp.relpath(path, root)] = f.read()
    return out


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('mini') / 'mmioc_mini')
    meta, generated = generate_mmioc_mini(root, seed=0, num_images=NUM_IMAGES)
    assert generated
    splits = {s: load_json(root, f'annotations/{s}.json') for s in SPLIT_NAMES}
    return root, meta, splits


def class_of_image(coco_dict):
    """{image id: category id or None} (one class per image)."""
    cls = {img['id']: None for img in coco_dict['images']}
    for ann in coco_dict['annotations']:
        assert cls[ann['image_id']] in (None, ann['category_id'])
        cls[ann['image_id']] = ann['category_id']
    return cls


def test_files_are_valid_coco_with_hierarchy(dataset):
    root, meta, splits = dataset
    name_to_id = {}
    ann_records = {}
    for split in SPLIT_NAMES:
        path = osp.join(root, 'annotations', f'{split}.json')
        with contextlib.redirect_stdout(io.StringIO()):
            coco = COCO(path)
        d = splits[split]
        assert d['info']['split'] == split
        assert len(coco.getImgIds()) == len(d['images']) > 0
        assert len(coco.getAnnIds()) == len(d['annotations']) > 0
        assert len({i['id'] for i in d['images']}) == len(d['images'])
        assert len({a['id']
                    for a in d['annotations']}) == len(d['annotations'])
        for cat in d['categories']:
            assert set(cat) >= {
                'id', 'name', 'supercategory', 'scene', 'texts'
            }
            assert cat['texts'][0] == cat['name']
            assert len(cat['texts']) == len(set(cat['texts'])) == 3
            # The same class has the same id in every file.
            assert name_to_id.setdefault(cat['name'], cat['id']) == cat['id']
        cat_scene = {c['id']: c['scene'] for c in d['categories']}
        images = {i['id']: i for i in d['images']}
        for img in d['images']:
            assert img['file_name'].split('/')[0] == img['scene'].replace(
                ' ', '_')
            assert 256 <= img['width'] <= 320 and 256 <= img['height'] <= 320
        for ann in d['annotations']:
            img = images[ann['image_id']]
            x, y, w, h = ann['bbox']
            assert w >= 1 and h >= 1 and x >= 0 and y >= 0
            assert x + w <= img['width'] and y + h <= img['height']
            assert ann['area'] == w * h and ann['iscrowd'] == 0
            assert cat_scene[ann['category_id']] == img['scene']
            # An annotation keeps its id and content in every file.
            assert ann_records.setdefault(ann['id'], ann) == ann
    # Every stored image decodes to the size its record states.
    seen_files = set()
    for d in splits.values():
        for img in d['images']:
            if img['file_name'] in seen_files:
                continue
            seen_files.add(img['file_name'])
            pixels = cv2.imread(osp.join(root, 'images', img['file_name']))
            assert pixels.shape == (img['height'], img['width'], 3)
    assert len(seen_files) == NUM_IMAGES == meta['num_images']
    for split, info in meta['splits'].items():
        assert info['images'] == len(splits[split]['images'])
        assert info['annotations'] == len(splits[split]['annotations'])


def test_class_table_counts_and_names():
    classes = mmioc_mini_classes()
    assert len(classes) >= 12
    assert len({c.supercategory for c in classes}) >= 3
    assert len({c.scene for c in classes}) >= 4
    assert len({c.defect for c in classes}) >= 5
    assert len({c.id for c in classes}) == len({c.name for c in classes}) \
        == len(classes)
    for c in classes:
        preposition = DEFECTS[c.defect][0]
        assert preposition in ('on', 'in')
        assert c.name == f'{c.defect} {preposition} {c.material}'
        assert c.texts[0] == c.name
        assert c.scene == MATERIALS[c.material].scene


def test_mask_to_bbox_by_hand():
    mask = np.zeros((10, 12), bool)
    mask[2, 3] = mask[5, 7] = True
    assert mask_to_bbox(mask) == [3.0, 2.0, 5.0, 4.0]
    with pytest.raises(ValueError, match='empty'):
        mask_to_bbox(np.zeros((4, 4), bool))


@pytest.mark.parametrize('defect', sorted(DEFECTS))
def test_boxes_are_tight_around_the_drawn_defect(defect):
    for seed, material in enumerate(sorted(MATERIALS)):
        rng = np.random.default_rng(seed)
        r = render_image(rng, material, defect, 270, 300, num_instances=4)
        assert r.image.shape == r.clean.shape == (270, 300, 3)
        assert 1 <= len(r.masks) == len(r.bboxes) <= 4
        union = np.zeros((270, 300), bool)
        for mask, bbox in zip(r.masks, r.bboxes):
            ys, xs = np.nonzero(mask)
            # Reference: the box spans the extreme mask pixels.
            assert bbox == [
                xs.min(),
                ys.min(),
                xs.max() - xs.min() + 1,
                ys.max() - ys.min() + 1
            ]
            changed = (r.image != r.clean).any(axis=-1)
            assert changed[mask].mean() > 0.8, (material, defect)
            assert not (union & mask).any()
            union |= mask
        # Nothing outside the defects is touched.
        assert np.array_equal(r.image[~union], r.clean[~union])
        # Boxes keep a margin between each other.
        for i, a in enumerate(r.bboxes):
            for b in r.bboxes[i + 1:]:
                gap_x = max(b[0] - (a[0] + a[2]), a[0] - (b[0] + b[2]))
                gap_y = max(b[1] - (a[1] + a[3]), a[1] - (b[1] + b[3]))
                assert max(gap_x, gap_y) >= BOX_MARGIN


def _instances(defect, material='gravel', n_images=12):
    out = []
    for seed in range(n_images):
        r = render_image(
            np.random.default_rng(100 + seed), material, defect, 256, 256, 2)
        out += [(r, m, b) for m, b in zip(r.masks, r.bboxes)]
    return out


def test_defect_shapes_are_distinct():
    # Spots are small dots; holes are filled ellipses darker inside.
    for r, mask, (x, y, w, h) in _instances('spot'):
        assert 2 <= max(w, h) <= 15 and mask.sum() >= 0.5 * w * h
    for r, mask, (x, y, w, h) in _instances('hole'):
        assert mask.sum() >= 0.6 * w * h
        cy, cx = int(y + h // 2), int(x + w // 2)
        assert r.image[cy, cx].sum() < r.clean[cy, cx].sum()
    # Scratches and cracks are long thin strokes (a 5 x 5 erosion wipes
    # them out); cracks only darken.
    for defect in ('scratch', 'crack'):
        for r, mask, (x, y, w, h) in _instances(defect):
            eroded = cv2.erode(mask.astype(np.uint8), np.ones((5, 5)))
            assert max(w, h) >= 10 and eroded.sum() <= 0.02 * mask.sum()
            if defect == 'crack':
                assert (r.image[mask].astype(int)
                        <= r.clean[mask].astype(int) + 1).all()
    # Many defects are smaller than 32 x 32 pixels.
    sizes = [
        max(b[2:]) for d in DEFECTS for _, _, b in _instances(d, 'brick', 4)
    ]
    assert np.mean(np.array(sizes) < 32) > 0.4
    # A missing part is flat: the texture inside it is gone.
    flat, textured = [], []
    for r, mask, _ in _instances('missing part'):
        core = cv2.erode(mask.astype(np.uint8), np.ones((3, 3))) > 0
        if core.sum() >= 20:
            flat.append(r.image[core].astype(float).std(axis=0).mean())
            textured.append(r.clean[core].astype(float).std(axis=0).mean())
    assert len(flat) >= 5
    assert np.median(flat) < 4 < np.median(textured)
    # A stain is a solid but soft blob: many partially covered pixels.
    for r, mask, _ in _instances('stain'):
        eroded = cv2.erode(mask.astype(np.uint8), np.ones((5, 5)))
        assert eroded.sum() > 0
    soft = []
    for seed in range(8):
        alpha = make_stain(np.random.default_rng(seed)).cropped().alpha
        soft.append(((alpha > 0) & (alpha < 0.9)).sum() / (alpha > 0).sum())
    assert min(soft) >= 0.2 and np.mean(soft) >= 0.35


def test_generated_boxes_match_rendered_images(dataset):
    root, _, splits = dataset
    plans = plan_mmioc_mini(0, NUM_IMAGES, 256, 320)
    images, anns = {}, defaultdict(list)
    for split in ('closed_train', 'closed_val'):
        images.update({i['id']: i for i in splits[split]['images']})
        for a in splits[split]['annotations']:
            anns[a['image_id']].append(a)
    for plan in plans[:12]:
        r = render_planned_image(0, plan)
        img = images[plan.image_id]
        assert [a['bbox'] for a in anns[plan.image_id]] == r.bboxes
        assert {a['category_id']
                for a in anns[plan.image_id]} <= {plan.class_id}
        stored = cv2.imread(osp.join(root, 'images', img['file_name']))
        stored = cv2.cvtColor(stored, cv2.COLOR_BGR2RGB).astype(float)
        # The stored JPEG is this rendering (up to compression) ...
        assert np.abs(stored - r.image).mean() < 4
        # ... and differs from the clean texture inside the boxes.
        if r.masks:
            union = np.any(r.masks, axis=0)
            inside = np.abs(stored - r.clean)[union].mean()
            outside = np.abs(stored - r.clean)[~union].mean()
            assert inside > outside + 2


def test_same_seed_identical_other_seed_differs(dataset, tmp_path):
    root, _, _ = dataset
    again = str(tmp_path / 'again')
    other = str(tmp_path / 'other')
    generate_mmioc_mini(again, seed=0, num_images=NUM_IMAGES)
    generate_mmioc_mini(other, seed=1, num_images=NUM_IMAGES)
    ref, same, diff = all_files(root), all_files(again), all_files(other)
    assert ref.keys() == same.keys()
    assert all(ref[k] == same[k] for k in ref)
    for split in SPLIT_NAMES:
        key = osp.join('annotations', f'{split}.json')
        assert diff[key] != ref[key]
    # Image files of both seeds (names differ with the drawn scene).
    jpgs = [k for k in ref if k.endswith('.jpg')]
    common = [k for k in jpgs if k in diff]
    assert sum(ref[k] != diff[k] for k in common) == len(common)


def test_open_split_recombines_seen_defects_and_materials(dataset):
    _, meta, splits = dataset
    by_id = {c.id: c for c in mmioc_mini_classes()}
    seen = {c['id'] for c in splits['open_train']['categories']}
    unseen = {c['id'] for c in splits['open_val']['categories']}
    assert seen and unseen and not seen & unseen
    assert seen | unseen == set(by_id)
    assert [c['id'] for c in splits['open_val_generalized']['categories']
            ] == sorted(by_id)
    assert {c['id'] for c in meta['classes'] if c['seen']} == seen
    seen_defects = {by_id[i].defect for i in seen}
    seen_materials = {by_id[i].material for i in seen}
    for i in unseen:
        assert by_id[i].defect in seen_defects
        assert by_id[i].material in seen_materials
        # Not a copy of a seen class.
        assert all((by_id[i].defect, by_id[i].material) != (by_id[j].defect,
                                                            by_id[j].material)
                   for j in seen)
    train_cls = class_of_image(splits['open_train'])
    val_cls = class_of_image(splits['open_val'])
    gen_cls = class_of_image(splits['open_val_generalized'])
    assert set(train_cls.values()) <= seen | {None}
    # open_val: only images with unseen defects, every unseen class there.
    assert set(val_cls.values()) == unseen
    assert not train_cls.keys() & gen_cls.keys()
    assert val_cls.keys() <= gen_cls.keys()
    assert set(gen_cls.values()) == set(by_id) | {None}
    # The default dataset gives every unseen class >= 25 images.
    counts = Counter(p.class_id for p in plan_mmioc_mini(0, 480, 256, 320))
    assert min(counts[i] for i in unseen) >= 25
    assert sum(counts[i] for i in unseen) >= 6 * 25


def test_class_texts_are_aligned_with_categories(dataset):
    root, _, splits = dataset
    for split, vocabulary in SPLIT_VOCABULARY.items():
        texts = load_json(root, f'texts/{TEXT_FILES[vocabulary]}')
        assert texts == [c['texts'] for c in splits[split]['categories']]
        assert all(isinstance(t, str) for ts in texts for t in ts)


def test_closed_split_is_stratified(dataset):
    _, _, splits = dataset
    train = class_of_image(splits['closed_train'])
    val = class_of_image(splits['closed_val'])
    assert not train.keys() & val.keys()
    assert len(train) + len(val) == NUM_IMAGES
    n_train, n_val = Counter(train.values()), Counter(val.values())
    assert set(n_train) == set(n_val) == {c.id
                                          for c in mmioc_mini_classes()
                                          } | {None}
    for cls in n_train:
        n = n_train[cls] + n_val[cls]
        assert abs(n_train[cls] - 0.7 * n) <= 0.5, cls
    # Hand-checked rounding for another ratio: 4 images at 0.5 -> 2 / 2,
    # 3 at 0.5 -> floor(2.0) = 2 / 1.
    plans = plan_mmioc_mini(0, NUM_IMAGES, 256, 320)
    tr, va = split_closed(plans, 0, 0.5)
    sizes = Counter(p.class_id for p in plans)
    got = Counter(plans[i].class_id for i in tr)
    for cls, n in sizes.items():
        assert got[cls] == int(np.floor(0.5 * n + 0.5))
    assert sorted(tr + va) == list(range(NUM_IMAGES))


def test_defect_free_images_are_kept(dataset):
    _, meta, splits = dataset
    free = [
        i for s in ('closed_train', 'closed_val')
        for i, c in class_of_image(splits[s]).items() if c is None
    ]
    # round(0.05 * 72) = 4 defect-free images, split 3 / 1 (0.7 * 4 = 2.8).
    assert len(free) == meta['num_defect_free_images'] == 4
    assert meta['splits']['closed_train']['defect_free_images'] == 3
    assert None not in class_of_image(splits['open_val']).values()


def test_check_params_rejects_bad_input():
    with pytest.raises(ValueError, match='num_images'):
        check_params(10, 256, 320, 0.7, 0)
    with pytest.raises(ValueError, match='min_size'):
        check_params(100, 320, 256, 0.7, 0)
    with pytest.raises(ValueError, match='closed_ratio'):
        check_params(100, 256, 320, 1.0, 0)
    with pytest.raises(ValueError, match='seed'):
        check_params(100, 256, 320, 0.7, -1)


def test_cli_skips_up_to_date_output_and_forces(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location('make_mmioc_mini', TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = str(tmp_path / 'cli')
    args = ['--out', out, '--num-images', '40', '--no-progress']
    assert tool.main(args) == 0
    assert 'unseen (6)' in capsys.readouterr().out
    marker = osp.join(out, 'marker')
    open(marker, 'w').close()
    assert tool.main(args) == 0
    assert 'up to date' in capsys.readouterr().out
    assert osp.exists(marker)
    # Other parameters or --force regenerate (the directory is replaced).
    assert tool.main(args + ['--seed', '3']) == 0
    assert not osp.exists(marker)
    assert load_json(out, 'meta.json')['params']['seed'] == 3
    open(marker, 'w').close()
    assert tool.main(args + ['--seed', '3', '--force']) == 0
    assert not osp.exists(marker)
    # Bad input and foreign directories give a one-line error.
    assert tool.main(args + ['--closed-ratio', '1.5']) == 2
    assert 'closed_ratio' in capsys.readouterr().err
    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    (foreign / 'keep.txt').write_text('x')
    assert tool.main([
        '--out',
        str(foreign), '--num-images', '40', '--force', '--no-progress'
    ]) == 2
    assert 'refusing' in capsys.readouterr().err
    assert (foreign / 'keep.txt').exists()
