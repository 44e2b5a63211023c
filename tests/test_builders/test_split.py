# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Tests of the closed / open splits (mmioc_rtvp/builders/split.py)."""
import csv
import importlib.util
import json
import os
import os.path as osp
from collections import Counter, defaultdict

import numpy as np
import pytest

from mmioc_rtvp.format.io import DatasetArrays
from mmioc_rtvp.builders.split import (
    OpenClassSplit, build_splits, closed_split, image_strata, open_members,
    select_open_classes, split_mmioc, stratified_train_mask)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO_ROOT, 'tools', 'dataset_converters', 'split_mmioc.py')


def category(cid, name, scene='wood', supercategory='wood'):
    return dict(
        id=cid,
        name=name,
        supercategory=supercategory,
        scene=scene,
        texts=[name, f'a photo of {name}'])


def make_dataset(image_labels, categories):
    """Images 1..N; image i has one 10x10 box per entry of its label list
    (category ids)."""
    images, anns = [], []
    for i, labels in enumerate(image_labels, start=1):
        images.append(
            dict(id=i, file_name=f'{i:03d}.jpg', width=100, height=80))
        for cid in labels:
            anns.append(
                dict(
                    id=len(anns) + 1,
                    image_id=i,
                    category_id=cid,
                    bbox=[1, 2, 10, 10],
                    area=100,
                    iscrowd=0))
    return dict(
        info=dict(description='test'),
        images=images,
        annotations=anns,
        categories=categories)


# categories A (id 1), B (id 5), C (id 9): non-contiguous ids
ABC = [category(1, 'A'), category(5, 'B'), category(9, 'C')]


def random_dataset(num_images=2000, num_classes=10, seed=0):
    """Images with 0-3 boxes; classes with very different frequencies."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, num_classes + 1)
    weights /= weights.sum()
    cats = [category(10 + k, f'class {k}') for k in range(num_classes)]
    labels = []
    for _ in range(num_images):
        n = rng.integers(0, 4)
        labels.append([10 + int(k) for k in rng.choice(num_classes, n,
                                                       p=weights)])
    return make_dataset(labels, cats)


def test_image_strata_rarest_class():
    # class images: A in 1, 2, 6 (3); B in 2, 3 (2); C in 4, 6 (2)
    data = make_dataset([[1], [1, 5], [5, 5], [9], [], [1, 9]], ABC)
    strata = image_strata(DatasetArrays.from_dict(data))
    # image 2 (A, B) -> B; image 6 (A, C) -> C; image 5 defect-free -> -1
    assert strata.tolist() == [0, 1, 1, 2, -1, 2]


def test_image_strata_tie_goes_to_earlier_category():
    # A and B both in 2 images; the image with both goes to A (file order)
    data = make_dataset([[1, 5], [1], [5]], ABC)
    assert image_strata(DatasetArrays.from_dict(data)).tolist() == [0, 0, 1]


def reference_train_mask(strata, ratio, seed):
    """Straightforward per-stratum loop of the documented rule."""
    keys = np.random.default_rng(seed).random(len(strata))
    mask = np.zeros(len(strata), dtype=bool)
    for s in sorted(set(strata.tolist())):
        members = sorted(np.flatnonzero(strata == s), key=lambda i: keys[i])
        n = len(members)
        n_train = int(np.floor(ratio * n + 0.5))
        if n >= 2:
            n_train = min(max(n_train, 1), n - 1)
        mask[members[:n_train]] = True
    return mask


@pytest.mark.parametrize('ratio, expected', [
    (0.7, {0: 1, 1: 1, 2: 2, 3: 7, -1: 3}),
    (0.8, {0: 1, 1: 1, 2: 2, 3: 8, -1: 3}),
    (0.3, {0: 0, 1: 1, 2: 1, 3: 3, -1: 1}),
])
def test_stratified_counts(ratio, expected):
    # strata sizes: 0 -> 1, 1 -> 2, 2 -> 3, 3 -> 10, -1 -> 4
    strata = np.array([3] * 10 + [0] + [1] * 2 + [2] * 3 + [-1] * 4)
    strata = strata[np.random.default_rng(5).permutation(len(strata))]
    mask = stratified_train_mask(strata, ratio, seed=0)
    counts = {s: int(mask[strata == s].sum()) for s in expected}
    # floor(r * n + 0.5), clipped to [1, n - 1] for n >= 2
    assert counts == expected
    np.testing.assert_array_equal(mask,
                                  reference_train_mask(strata, ratio, 0))


def test_stratified_matches_reference_and_is_seeded():
    strata = np.random.default_rng(1).integers(-1, 20, 3000)
    for seed in (0, 1, 7):
        mask = stratified_train_mask(strata, 0.7, seed)
        np.testing.assert_array_equal(
            mask, reference_train_mask(strata, 0.7, seed))
        np.testing.assert_array_equal(mask,
                                      stratified_train_mask(strata, 0.7, seed))
    assert (stratified_train_mask(strata, 0.7, 0) !=
            stratified_train_mask(strata, 0.7, 1)).any()
    with pytest.raises(ValueError, match='ratio'):
        stratified_train_mask(strata, 1.5, 0)


@pytest.mark.parametrize('ratio', [0.7, 0.8])
def test_closed_split_per_class_ratio(ratio):
    data = random_dataset()
    arrays = DatasetArrays.from_dict(data)
    splits, summary = build_splits(data, arrays, closed_ratio=ratio, seed=3)
    train, val = splits['closed_train'], splits['closed_val']
    train_ids = {im['id'] for im in train['images']}
    val_ids = {im['id'] for im in val['images']}
    # every image in exactly one side, with all its annotations
    assert not train_ids & val_ids
    assert train_ids | val_ids == {im['id'] for im in data['images']}
    assert {a['image_id'] for a in train['annotations']} <= train_ids
    assert {a['image_id'] for a in val['annotations']} <= val_ids
    assert (len(train['annotations']) + len(val['annotations']) == len(
        data['annotations']))
    assert train['categories'] == data['categories'] == val['categories']
    assert train['info']['split'] == 'closed_train'
    # per class share of images within tolerance (rarest class: 200+ imgs)
    images_of = defaultdict(set)
    for a in data['annotations']:
        images_of[a['category_id']].add(a['image_id'])
    for row in summary['closed_per_class']:
        imgs = images_of[row['id']]
        n_train = len(imgs & train_ids)
        assert row['train_images'] == n_train
        assert row['val_images'] == len(imgs) - n_train
        assert abs(n_train / len(imgs) - ratio) < 0.05, row
    # exact on each stratum
    strata = image_strata(arrays)
    mask = np.isin(arrays.image_ids, list(train_ids))
    for s in np.unique(strata):
        n = int((strata == s).sum())
        assert mask[strata == s].sum() == min(
            max(int(np.floor(ratio * n + 0.5)), 1), n - 1)


def test_closed_split_deterministic_under_seed():
    arrays = DatasetArrays.from_dict(random_dataset())
    np.testing.assert_array_equal(
        closed_split(arrays, 0.7, 11), closed_split(arrays, 0.7, 11))
    assert (closed_split(arrays, 0.7, 11) != closed_split(arrays, 0.7,
                                                          12)).any()


def gram_embeddings(sim):
    """Vectors whose cosine similarity table is exactly ``sim``."""
    sim = np.asarray(sim, dtype=np.float64)
    return np.linalg.cholesky(sim)


# 7 classes: a tight triple A-B-C, a pair D-E, two isolated F, G.
# sim(A,B)=.98, sim(A,C)=.95, sim(B,C)=.92, sim(D,E)=.97; others <= .5
HAND_SIM = np.array([
    [1.00, 0.98, 0.95, 0.30, 0.30, 0.10, 0.00],
    [0.98, 1.00, 0.92, 0.30, 0.30, 0.10, 0.00],
    [0.95, 0.92, 1.00, 0.30, 0.30, 0.10, 0.00],
    [0.30, 0.30, 0.30, 1.00, 0.97, 0.20, 0.00],
    [0.30, 0.30, 0.30, 0.97, 1.00, 0.20, 0.00],
    [0.10, 0.10, 0.10, 0.20, 0.20, 1.00, 0.50],
    [0.00, 0.00, 0.00, 0.00, 0.00, 0.50, 1.00],
])
NAMES = list('ABCDEFG')


def names_of(indices):
    return [NAMES[i] for i in indices]


def test_hand_made_embeddings_have_the_table():
    emb = gram_embeddings(HAND_SIM)
    np.testing.assert_allclose(emb @ emb.T, HAND_SIM, atol=1e-12)


def test_open_selection_exact_lists():
    # neighbours (1 - cos <= 0.1): A-B, A-C, B-C, D-E; F and G isolated.
    # coverage: A 1.93 > B 1.90 > C 1.87 > D = E 0.97; 5 eligible classes,
    # round(0.4 * 5) = 2 unseen: A (seen neighbours B, C) then B (seen
    # neighbour C; A keeps C).
    result = select_open_classes(
        gram_embeddings(HAND_SIM) * 3.0,  # any scale: normalised inside
        threshold=0.1,
        unseen_ratio=0.4,
        seed=0)
    assert names_of(result.unseen) == ['A', 'B']
    assert names_of(result.seen) == ['C', 'D', 'E']
    assert names_of(result.isolated) == ['F', 'G']
    assert result.target_unseen == 2
    np.testing.assert_allclose(result.similarity, HAND_SIM, atol=1e-12)


@pytest.mark.parametrize('seed', [0, 1, 2, 3])
def test_open_selection_constraint_and_ties(seed):
    # target round(0.6 * 5) = 3: A, B, then C is refused (no seen neighbour
    # left), then one of the tied D / E (seeded).
    result = select_open_classes(
        gram_embeddings(HAND_SIM), threshold=0.1, unseen_ratio=0.6,
        seed=seed)
    unseen = names_of(result.unseen)
    assert unseen[:2] == ['A', 'B'] and unseen[2] in ('D', 'E')
    assert len(unseen) == 3
    again = select_open_classes(
        gram_embeddings(HAND_SIM), threshold=0.1, unseen_ratio=0.6,
        seed=seed)
    assert names_of(again.unseen) == unseen


def test_open_selection_never_strands_an_unseen_class():
    # 2-D unit vectors at these angles (radians): cos = cos(difference);
    # neighbours (cos >= 0.9, i.e. |difference| <= 0.451) form the chain
    # D - C - A - B - E. Coverage: A 1.903 > C 1.899 > B 1.865 > E > D.
    angles = dict(D=0.0, C=0.43, A=0.57, B=0.99, E=1.30)
    names = list(angles)
    emb = np.array([[np.cos(a), np.sin(a)] for a in angles.values()])
    result = select_open_classes(emb, threshold=0.1, unseen_ratio=0.6)
    # target round(0.6 * 5) = 3. A goes unseen, then C (its seen neighbour
    # D remains); B is refused although it has a seen neighbour (E): A
    # would lose its last seen neighbour. E goes unseen (B is seen).
    assert [names[i] for i in result.unseen] == ['C', 'A', 'E']
    assert [names[i] for i in result.seen] == ['D', 'B']


def test_open_selection_tie_depends_on_seed():
    picks = {
        names_of(
            select_open_classes(
                gram_embeddings(HAND_SIM), 0.1, 0.6, seed=s).unseen)[2]
        for s in range(20)
    }
    assert picks == {'D', 'E'}


def test_open_selection_threshold_and_isolated_seen():
    # threshold 0.55: F-G (0.5 apart) become neighbours too
    result = select_open_classes(
        gram_embeddings(HAND_SIM), threshold=0.55, unseen_ratio=0.4)
    assert not len(result.isolated)
    result = select_open_classes(
        gram_embeddings(HAND_SIM), 0.1, 0.4, isolated_seen=True)
    assert names_of(result.seen) == ['C', 'D', 'E', 'F', 'G']
    assert not len(result.isolated)


def test_open_selection_invariants_random():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(60, 8))
    sim = emb @ emb.T / np.outer(
        np.linalg.norm(emb, axis=1), np.linalg.norm(emb, axis=1))
    result = select_open_classes(emb, threshold=0.5, unseen_ratio=0.4)
    near = (1 - sim) <= 0.5
    np.fill_diagonal(near, False)
    seen, unseen = set(result.seen), set(result.unseen)
    assert not seen & unseen
    for u in unseen:  # every unseen class has a seen neighbour
        assert any(near[u, s] for s in seen)
    assert set(result.isolated) == set(np.flatnonzero(~near.any(1)))
    assert len(unseen) <= result.target_unseen


def test_open_members_by_hand():
    # A seen, B unseen, C isolated (left out)
    data = make_dataset(
        [[1], [1, 5], [5], [9], [], [1, 9], [1], []], ABC)
    arrays = DatasetArrays.from_dict(data)
    classes = OpenClassSplit.from_names(['A', 'B', 'C'], ['A'], ['B'])
    assert classes.isolated.tolist() == [2]
    train = np.array([1, 1, 0, 1, 1, 0, 0, 0], dtype=bool)
    members = open_members(arrays, classes, train)
    image_ids = {k: arrays.image_ids[v[0]].tolist()
                 for k, v in members.items()}
    assert image_ids == dict(
        open_train=[1, 5],
        open_val=[2, 3],
        open_val_seen=[7, 8],
        open_val_generalized=[2, 3, 7, 8])
    labels = {k: arrays.ann_label[v[1]].tolist() for k, v in members.items()}
    # open_val: B boxes of images 2 and 3 only; generalized: A and B
    assert labels == dict(
        open_train=[0], open_val=[1, 1], open_val_seen=[0],
        open_val_generalized=[0, 1, 1, 0])
    cats = {k: v[2].tolist() for k, v in members.items()}
    assert cats == dict(
        open_train=[0], open_val=[1], open_val_seen=[0],
        open_val_generalized=[0, 1])
    no_holdout = open_members(arrays, classes, train, holdout_seen=False)
    assert sorted(no_holdout) == ['open_train', 'open_val']
    assert (arrays.image_ids[no_holdout['open_train'][0]]).tolist() == [
        1, 5, 7, 8
    ]


def test_from_names_errors():
    with pytest.raises(ValueError, match='not in the annotation file'):
        OpenClassSplit.from_names(['A', 'B'], ['A'], ['Z'])
    with pytest.raises(ValueError, match='both seen and unseen'):
        OpenClassSplit.from_names(['A', 'B'], ['A', 'B'], ['B'])


def hand_dataset():
    """7 classes named A..G (ids 100..700), scene = the triple / pair."""
    cats = [category(100 * (i + 1), n) for i, n in enumerate(NAMES)]
    labels = []
    for i in range(7):
        for j in range(6):  # 6 images of each class, some with two classes
            cid = 100 * (i + 1)
            labels.append([cid] if j % 3 else [cid, 100 * ((i + 1) % 7 + 1)])
    labels += [[], [], []]
    return make_dataset(labels, cats)


def write_embeddings_json(path, categories, emb):
    table = {c['texts'][0]: row.tolist() for c, row in zip(categories, emb)}
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(table, f)


def read(root, rel):
    with open(osp.join(root, rel), encoding='utf-8') as f:
        return json.load(f)


def all_bytes(root):
    out = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = osp.join(dirpath, name)
            if name != 'split_summary.json':  # holds the timing
                with open(path, 'rb') as f:
                    out[osp.relpath(path, root)] = f.read()
    return out


def test_split_mmioc_with_precomputed_encoder(tmp_path):
    data = hand_dataset()
    ann = tmp_path / 'all.json'
    ann.write_text(json.dumps(data))
    emb_file = tmp_path / 'emb.json'
    write_embeddings_json(emb_file, data['categories'],
                          gram_embeddings(HAND_SIM))
    out = tmp_path / 'out'
    summary = split_mmioc(
        str(ann),
        str(out),
        seed=0,
        encoder=dict(
            type='PrecomputedTextEncoder', embeddings_file=str(emb_file)),
        threshold=0.1,
        unseen_ratio=0.4)
    assert summary['open_classes']['num_unseen'] == 2
    record = read(out, 'splits/open_classes.json')
    assert [c['name'] for c in record['unseen']] == ['A', 'B']
    assert [c['name'] for c in record['seen']] == ['C', 'D', 'E']
    assert [c['name'] for c in record['isolated']] == ['F', 'G']
    # each unseen class with its nearest seen class: both A and B -> C
    assert [(c['nearest'], c['similarity']) for c in record['unseen']] == [
        ('C', 0.95), ('C', 0.92)
    ]
    with open(out / 'splits' / 'open_similarity.csv', encoding='utf-8') as f:
        rows = list(csv.reader(f))
    assert rows[0] == ['id', 'name', 'role', *NAMES]
    assert [r[2] for r in rows[1:]] == [
        'unseen', 'unseen', 'seen', 'seen', 'seen', 'isolated', 'isolated'
    ]
    np.testing.assert_allclose(
        np.array([r[3:] for r in rows[1:]], dtype=float), HAND_SIM,
        atol=1e-6)

    # annotation files and aligned class-text files
    for split, vocab in [('closed_train', 'closed'),
                         ('closed_val', 'closed'), ('open_train', 'seen'),
                         ('open_val', 'unseen'), ('open_val_seen', 'seen'),
                         ('open_val_generalized', 'generalized')]:
        coco = read(out, f'annotations/{split}.json')
        texts = read(out, f'texts/{vocab}_class_texts.json')
        assert texts == [c['texts'] for c in coco['categories']]
        cat_ids = {c['id'] for c in coco['categories']}
        assert {a['category_id'] for a in coco['annotations']} <= cat_ids
        assert coco['info']['split'] == split
    names = {s: [c['name'] for c in read(out, f'annotations/{s}.json')[
        'categories']] for s in ('open_train', 'open_val',
                                 'open_val_generalized')}
    assert names == dict(
        open_train=['C', 'D', 'E'],
        open_val=['A', 'B'],
        open_val_generalized=['A', 'B', 'C', 'D', 'E'])
    # open_train images: no box of an unseen or isolated class
    train = read(out, 'annotations/open_train.json')
    by_image = defaultdict(set)
    for a in data['annotations']:
        by_image[a['image_id']].add(a['category_id'])
    for im in train['images']:
        assert by_image[im['id']] <= {300, 400, 500}
    # open_val: every image with an A or B box
    val = read(out, 'annotations/open_val.json')
    assert {im['id'] for im in val['images']} == {
        i for i, c in by_image.items() if c & {100, 200}
    }
    assert Counter(a['category_id'] for a in val['annotations']) == Counter(
        a['category_id'] for a in data['annotations']
        if a['category_id'] in (100, 200))

    # the lists reproduce the split without the encoder
    again = tmp_path / 'again'
    split_mmioc(
        str(ann),
        str(again),
        seed=0,
        class_lists=str(out / 'splits' / 'open_classes.json'))
    first, second = all_bytes(out), all_bytes(again)
    for rel in first:
        if rel.startswith(('annotations', 'texts')):
            assert first[rel] == second[rel], rel


def load_tool():
    spec = importlib.util.spec_from_file_location('split_mmioc_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reproducible_and_seeded(tmp_path, capsys):
    tool = load_tool()
    data = hand_dataset()
    ann = tmp_path / 'all.json'
    ann.write_text(json.dumps(data))
    emb = tmp_path / 'emb.npz'
    np.savez(
        emb,
        texts=np.array([c['texts'][0] for c in data['categories']]),
        embeddings=gram_embeddings(HAND_SIM).astype(np.float32))
    outs = []
    for name, seed in (('a', 4), ('b', 4), ('c', 5)):
        out = tmp_path / name
        code = tool.main([
            str(ann), '--out-dir',
            str(out), '--seed',
            str(seed), '--embeddings',
            str(emb), '--unseen-ratio', '0.4', '--closed-ratio', '0.5',
            '--no-progress'
        ])
        assert code == 0
        outs.append(all_bytes(out))
    assert 'open split: 3 seen, 2 unseen' in capsys.readouterr().out
    assert outs[0] == outs[1]
    assert outs[0]['annotations/closed_train.json'] != outs[2][
        'annotations/closed_train.json']
    train = json.loads(outs[0]['annotations/closed_train.json'])
    # strata (rarest class, ties to the earlier class): A 8 images (its own
    # 6 + the 2 of G mixed with A), B..F 6, G 4, defect-free 3;
    # floor(0.5 * n + 0.5) of each go to train: 4 + 5 * 3 + 2 + 2
    assert len(train['images']) == 23


def test_cli_closed_only_and_errors(tmp_path, capsys):
    tool = load_tool()
    ann = tmp_path / 'all.json'
    ann.write_text(json.dumps(random_dataset(200, 4)))
    out = tmp_path / 'out'
    assert tool.main([
        str(ann), '--out-dir',
        str(out), '--splits', 'closed', '--closed-ratio', '0.8',
        '--no-progress'
    ]) == 0
    assert sorted(os.listdir(out / 'annotations')) == [
        'closed_train.json', 'closed_val.json'
    ]
    assert os.listdir(out / 'texts') == ['closed_class_texts.json']
    assert tool.main([str(tmp_path / 'missing.json'), '--out-dir',
                      str(out)]) == 2
    assert 'annotation file not found' in capsys.readouterr().err
    bad = random_dataset(20, 2)
    bad['annotations'][0]['category_id'] = 12345
    ann.write_text(json.dumps(bad))
    assert tool.main([str(ann), '--out-dir', str(out), '--splits',
                      'closed']) == 2
    err = capsys.readouterr().err
    assert 'unknown category_id 12345' in err and str(ann) in err
