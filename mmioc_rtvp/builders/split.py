# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Closed and open splits of an MMIOC dataset (paper section 3.1.4).

Closed split (every class, train/val)
    The split is made on images. Each image is put in the stratum of its
    *rarest* class: among the classes of its boxes, the one present in the
    fewest images of the whole file (ties: the earlier category of the
    file). Defect-free images form one more stratum. Inside each stratum the
    images are ordered by a seeded random key and the first
    ``floor(ratio * n + 0.5)`` of its ``n`` images go to train, clipped to
    ``[1, n - 1]`` when ``n >= 2`` (so every stratum of two images or more
    has images on both sides). Every image is in exactly one side; the share
    of a class's images in train is exact on its own stratum and close to
    ``ratio`` overall (images of several classes follow their rarest one, so
    rare classes keep their ratio). Default ``ratio = 0.7`` (the paper's
    7:3); the final MMIOC-1M benchmark uses ``0.8``.

Open split (seen / unseen classes)
    The paper embeds the class descriptions ("scene + defect", e.g. "holes in
    wood") and keeps, with a similarity threshold of 0.1, 94 seen and 64
    unseen classes: unseen classes must lie close to seen ones in the text
    embedding space, so that what is learnt on the seen classes transfers.
    It does not state the exact rule, so this module implements the
    following one (the threshold is read as a cosine *distance*: a cosine
    *similarity* above 0.1 holds for nearly every pair of CLIP prompts,
    whereas 94 + 64 = 158 of 351 classes take part in the paper's split):

    1. Each class is embedded by the text encoder from its canonical prompt
       (``texts[0]``; ``text_mode='mean'``: the normalised mean of the
       embeddings of all its prompts). ``S = E E^T`` is the cosine
       similarity table (symmetrised).
    2. Two classes are *neighbours* when ``1 - S[i, j] <= threshold``.
       Classes without a neighbour are *isolated*: they take no part in the
       open split (their images are left out of it), unless
       ``isolated_seen=True`` makes them seen classes.
    3. Among the ``n`` classes with a neighbour,
       ``round(unseen_ratio * n)`` become unseen (default ratio 64 / 158,
       the paper's), picked greedily: candidates are visited by decreasing
       *coverage* (the sum of the similarities to their neighbours, rounded
       to 1e-9; ties in a seeded random order), and a candidate becomes
       unseen only if, afterwards, it and every unseen class still have at
       least one seen neighbour. The other classes with a neighbour are
       seen. Hence every unseen class has a seen class within the threshold.
       If the constraint stops the greedy pass early, fewer classes are
       unseen (reported in ``OpenClassSplit.target_unseen``).

    Explicit lists can replace the selection (``OpenClassSplit.from_names``,
    e.g. from a previous run's ``open_classes.json``).

    Files, with ``holdout_seen=True`` (the default):

    - ``open_train``: seen categories; the closed-train images whose boxes
      are all of seen classes (defect-free images included);
    - ``open_val``: unseen categories; every image with an unseen box, with
      its unseen boxes only (the paper's protocol);
    - ``open_val_seen``: seen categories; the closed-val images whose boxes
      are all of seen classes (validation of seen-class pre-training);
    - ``open_val_generalized``: seen + unseen categories; the images of
      ``open_val`` and ``open_val_seen`` with their seen and unseen boxes.

    With ``holdout_seen=False`` ``open_train`` takes every image whose boxes
    are all seen and only ``open_train`` / ``open_val`` are written.
    Images holding a box of an isolated class are never in ``open_train``
    or ``open_val_seen``.

Everything is vectorised with numpy (no per-record Python loop besides
reading and writing the records), so MMIOC-1M splits in seconds.
Text encoders (torch) are imported only when the open split needs them.
"""
import csv
import os
import os.path as osp
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from mmioc_rtvp.format.io import (AnnotationArrays, class_texts, dump_json,
                                  load_json, load_mmioc)
from mmioc_rtvp.format.io import subset as subset_dict
# CLOSED_SPLITS and OPEN_SPLITS are re-exported (public names of this module)
from mmioc_rtvp.format.splits import (CLOSED_SPLITS, OPEN_SPLITS,  # noqa: F401
                                      SPLIT_VOCABULARY, TEXT_FILES)

#: The paper's open split: 64 unseen among 158 classes.
PAPER_UNSEEN_RATIO = 64 / 158


def _round_half_up(x: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5).astype(np.int64)


def image_class_pairs(
        arrays: AnnotationArrays) -> Tuple[np.ndarray, np.ndarray]:
    """The distinct (image, class) pairs of the boxes.

    Args:
        arrays (AnnotationArrays): The dataset.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``(P,)`` image indices and ``(P,)``
        class indices, sorted by image then class.
    """
    k = max(arrays.num_categories, 1)
    keys = np.unique(arrays.ann_image * k + arrays.ann_label)
    return keys // k, keys % k


def image_strata(arrays: AnnotationArrays) -> np.ndarray:
    """The stratum of every image: its rarest class (``-1``: defect-free).

    Args:
        arrays (AnnotationArrays): The dataset.

    Returns:
        np.ndarray: ``(N,)`` int64 class index of each image's rarest class
        (fewest images in the file; ties: the earlier category), ``-1`` for
        images without boxes.
    """
    num_classes = arrays.num_categories
    pair_image, pair_label = image_class_pairs(arrays)
    images_per_class = np.bincount(pair_label, minlength=num_classes)
    # rank of each class: by image count, then by file order
    rank_order = np.lexsort((np.arange(num_classes), images_per_class))
    rank = np.empty(num_classes, dtype=np.int64)
    rank[rank_order] = np.arange(num_classes)
    strata = np.full(arrays.num_images, -1, dtype=np.int64)
    if len(pair_image):
        starts = np.flatnonzero(np.r_[True, pair_image[1:] != pair_image[:-1]])
        best_rank = np.minimum.reduceat(rank[pair_label], starts)
        strata[pair_image[starts]] = rank_order[best_rank]
    return strata


def stratified_train_mask(strata: np.ndarray, ratio: float,
                          seed: int) -> np.ndarray:
    """Seeded stratified split: which items go to train.

    In each stratum of ``n`` items, ``floor(ratio * n + 0.5)`` items (clipped
    to ``[1, n - 1]`` when ``n >= 2``) go to train, chosen by a random key
    drawn from ``numpy.random.default_rng(seed)`` for every item.

    Args:
        strata (np.ndarray): ``(N,)`` int stratum of each item.
        ratio (float): Train share, in ``[0, 1]``.
        seed (int): Seed.

    Returns:
        np.ndarray: ``(N,)`` bool, True for train.
    """
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f'the train ratio must be in [0, 1], got {ratio}')
    strata = np.asarray(strata, dtype=np.int64)
    num = len(strata)
    keys = np.random.default_rng(seed).random(num)
    order = np.lexsort((keys, strata))
    sorted_strata = strata[order]
    starts = np.flatnonzero(np.r_[True, sorted_strata[1:] !=
                                  sorted_strata[:-1]]) if num else np.zeros(
                                      0, dtype=np.int64)
    sizes = np.diff(np.r_[starts, num])
    num_train = _round_half_up(ratio * sizes)
    two_or_more = sizes >= 2
    num_train[two_or_more] = np.clip(num_train[two_or_more], 1,
                                     sizes[two_or_more] - 1)
    group = np.repeat(np.arange(len(starts)), sizes)
    position = np.arange(num) - np.repeat(starts, sizes)
    mask = np.zeros(num, dtype=bool)
    mask[order] = position < num_train[group]
    return mask


def closed_split(arrays: AnnotationArrays,
                 ratio: float = 0.7,
                 seed: int = 0) -> np.ndarray:
    """Per-class stratified image-level train/val split.

    See the module docstring for the rule.

    Args:
        arrays (AnnotationArrays): The dataset.
        ratio (float): Train share. Defaults to 0.7 (7:3).
        seed (int): Seed. Defaults to 0.

    Returns:
        np.ndarray: ``(N,)`` bool, True for the train images.
    """
    return stratified_train_mask(image_strata(arrays), ratio, seed)


def encode_class_texts(texts: Sequence[Sequence[str]],
                       encoder: Any,
                       text_mode: str = 'canonical') -> np.ndarray:
    """Embed every class with a text encoder of ``mmioc_rtvp``.

    torch and the text encoders are imported here, not at module level.

    Args:
        texts (Sequence[Sequence[str]]): ``K`` prompt lists.
        encoder (dict | BaseTextEncoder): An encoder, or its config
            (``dict(type='MiniLMTextEncoder', ...)``; a type without a scope
            is looked up as ``mmioc_rtvp.<type>``).
        text_mode (str): ``'canonical'`` embeds the first prompt;
            ``'mean'`` averages the embeddings of all prompts of a class.

    Returns:
        np.ndarray: ``(K, D)`` float64 L2-normalised class embeddings.
    """
    if text_mode not in ('canonical', 'mean'):
        raise ValueError(
            f"text_mode must be 'canonical' or 'mean', got {text_mode!r}")
    for i, prompts in enumerate(texts):
        if not prompts or not all(isinstance(p, str) and p for p in prompts):
            raise ValueError(f'class {i}: needs non-empty prompts, got '
                             f'{prompts!r}')
    import torch

    from mmioc_rtvp.models.text_encoders import BaseTextEncoder
    from mmioc_rtvp.registry import MODELS
    if isinstance(encoder, dict):
        cfg = dict(encoder)
        if '.' not in cfg['type']:
            cfg['type'] = f'mmioc_rtvp.{cfg["type"]}'
        encoder = MODELS.build(cfg)
    if not isinstance(encoder, BaseTextEncoder):
        raise TypeError(f'expected a BaseTextEncoder or its config, got '
                        f'{type(encoder).__name__}')
    if text_mode == 'canonical':
        prompts = [p[0] for p in texts]
        owner = np.arange(len(texts))
    else:
        prompts = [p for ps in texts for p in ps]
        owner = np.repeat(np.arange(len(texts)), [len(ps) for ps in texts])
    with torch.no_grad():
        embeds = encoder.encode(prompts).detach().float().cpu().numpy()
    embeds = embeds.astype(np.float64)
    sums = np.zeros((len(texts), embeds.shape[1]))
    np.add.at(sums, owner, embeds)
    return normalise_rows(sums)


def normalise_rows(embeddings: np.ndarray) -> np.ndarray:
    """L2-normalise rows; raise on an all-zero row.

    Args:
        embeddings (np.ndarray): ``(K, D)``.

    Returns:
        np.ndarray: ``(K, D)`` float64 unit rows.
    """
    embeddings = np.asarray(embeddings, dtype=np.float64)
    if embeddings.ndim != 2:
        raise ValueError(f'embeddings must be (K, D), got shape '
                         f'{embeddings.shape}')
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    zero = np.flatnonzero(norms[:, 0] == 0)
    if len(zero):
        raise ValueError(f'class {int(zero[0])} has an all-zero embedding')
    return embeddings / norms


@dataclass
class OpenClassSplit:
    """Seen / unseen / isolated classes of an open split.

    Class indices refer to the categories of the annotation file (file
    order).

    Attributes:
        seen (np.ndarray): Class indices of the seen classes, ascending.
        unseen (np.ndarray): Class indices of the unseen classes, ascending.
        isolated (np.ndarray): Class indices left out of the open split.
        similarity (np.ndarray, optional): ``(K, K)`` cosine similarities.
        threshold (float, optional): Cosine-distance threshold used.
        target_unseen (int, optional): Number of unseen classes aimed at.
        params (dict): How the split was made (for the record).
    """
    seen: np.ndarray
    unseen: np.ndarray
    isolated: np.ndarray
    similarity: Optional[np.ndarray] = None
    threshold: Optional[float] = None
    target_unseen: Optional[int] = None
    params: dict = field(default_factory=dict)

    @classmethod
    def from_names(cls, names: Sequence[str], seen: Sequence[str],
                   unseen: Sequence[str]) -> 'OpenClassSplit':
        """Explicit lists of class names (other classes are isolated).

        Args:
            names (Sequence[str]): The ``K`` category names (file order).
            seen (Sequence[str]): Names of the seen classes.
            unseen (Sequence[str]): Names of the unseen classes.

        Returns:
            OpenClassSplit: The split.

        Raises:
            ValueError: Unknown, repeated or overlapping names, or an empty
                list.
        """
        index = {n: i for i, n in enumerate(names)}
        out = []
        for what, listed in (('seen', seen), ('unseen', unseen)):
            unknown = [n for n in listed if n not in index]
            if unknown:
                raise ValueError(f'{what} classes not in the annotation '
                                 f'file: {unknown[:10]}')
            if len(set(listed)) != len(listed) or not listed:
                raise ValueError(f'the {what} list is empty or repeats a '
                                 f'name')
            out.append(np.array(sorted(index[n] for n in listed), np.int64))
        both = set(seen) & set(unseen)
        if both:
            raise ValueError(f'classes both seen and unseen: '
                             f'{sorted(both)[:10]}')
        taken = np.zeros(len(names), dtype=bool)
        taken[out[0]] = taken[out[1]] = True
        return cls(
            seen=out[0],
            unseen=out[1],
            isolated=np.flatnonzero(~taken),
            params=dict(rule='explicit lists'))

    def roles(self, num_classes: int) -> np.ndarray:
        """``(K,)`` int8 role of every class: 0 isolated, 1 seen, 2 unseen."""
        role = np.zeros(num_classes, dtype=np.int8)
        role[self.seen] = 1
        role[self.unseen] = 2
        return role


def select_open_classes(embeddings: np.ndarray,
                        threshold: float = 0.1,
                        unseen_ratio: float = PAPER_UNSEEN_RATIO,
                        seed: int = 0,
                        isolated_seen: bool = False) -> OpenClassSplit:
    """Choose seen and unseen classes from class text embeddings.

    See the module docstring for the rule.

    Args:
        embeddings (np.ndarray): ``(K, D)`` class embeddings (normalised
            here).
        threshold (float): Two classes are neighbours when their cosine
            distance ``1 - cos`` is at most this. Defaults to 0.1.
        unseen_ratio (float): Share of unseen classes among the classes
            with a neighbour. Defaults to 64 / 158.
        seed (int): Seed of the tie-breaking order. Defaults to 0.
        isolated_seen (bool): Make isolated classes seen instead of leaving
            them out. Defaults to False.

    Returns:
        OpenClassSplit: The split, with the similarity table.
    """
    if not 0.0 < unseen_ratio < 1.0:
        raise ValueError(f'unseen_ratio must be in (0, 1), got '
                         f'{unseen_ratio}')
    unit = normalise_rows(embeddings)
    num = len(unit)
    sim = unit @ unit.T
    sim = (sim + sim.T) / 2
    np.fill_diagonal(sim, 1.0)
    near = (1.0 - sim) <= threshold
    np.fill_diagonal(near, False)
    has_neighbour = near.any(axis=1)
    eligible = np.flatnonzero(has_neighbour)
    target = int(_round_half_up(unseen_ratio * len(eligible)))
    coverage = np.round(np.where(near, sim, 0.0).sum(axis=1), 9)
    tie_key = np.random.default_rng(seed).random(num)
    order = eligible[np.lexsort((tie_key[eligible], -coverage[eligible]))]

    unseen = np.zeros(num, dtype=bool)
    seen_neighbours = near.sum(axis=1)
    count = 0
    for c in order:
        if count >= target:
            break
        if seen_neighbours[c] < 1:
            continue
        nbrs = np.flatnonzero(near[c])
        if (seen_neighbours[nbrs[unseen[nbrs]]] < 2).any():
            continue
        unseen[c] = True
        seen_neighbours[nbrs] -= 1
        count += 1
    seen = has_neighbour & ~unseen
    isolated = ~has_neighbour
    if isolated_seen:
        seen |= isolated
        isolated = np.zeros(num, dtype=bool)
    return OpenClassSplit(
        seen=np.flatnonzero(seen),
        unseen=np.flatnonzero(unseen),
        isolated=np.flatnonzero(isolated),
        similarity=sim,
        threshold=float(threshold),
        target_unseen=target,
        params=dict(
            rule='greedy by coverage, cosine distance <= threshold',
            threshold=float(threshold),
            unseen_ratio=float(unseen_ratio),
            seed=int(seed),
            isolated_seen=bool(isolated_seen)))


def open_members(arrays: AnnotationArrays, classes: OpenClassSplit,
                 closed_train: np.ndarray,
                 holdout_seen: bool = True) -> Dict[str, Tuple]:
    """Images, annotations and categories of every open-split file.

    Args:
        arrays (AnnotationArrays): The dataset.
        classes (OpenClassSplit): Seen / unseen classes.
        closed_train (np.ndarray): ``(N,)`` bool closed-split train mask.
        holdout_seen (bool): See the module docstring. Defaults to True.

    Returns:
        dict[str, tuple]: Per file name, the image indices, annotation
        indices and category indices (all ascending).
    """
    role = classes.roles(arrays.num_categories)
    ann_role = role[arrays.ann_label]
    num_images = arrays.num_images
    has_unseen = np.zeros(num_images, dtype=bool)
    has_unseen[arrays.ann_image[ann_role == 2]] = True
    has_isolated = np.zeros(num_images, dtype=bool)
    has_isolated[arrays.ann_image[ann_role == 0]] = True
    only_seen = ~has_unseen & ~has_isolated
    seen_cats = classes.seen
    unseen_cats = classes.unseen
    both_cats = np.sort(np.concatenate([seen_cats, unseen_cats]))

    def anns_of(image_mask: np.ndarray, roles: Tuple[int, ...]) -> np.ndarray:
        keep = image_mask[arrays.ann_image] & np.isin(ann_role, roles)
        return np.flatnonzero(keep)

    out = {}
    train = only_seen & closed_train if holdout_seen else only_seen
    out['open_train'] = (np.flatnonzero(train), anns_of(train, (1, )),
                         seen_cats)
    out['open_val'] = (np.flatnonzero(has_unseen), anns_of(has_unseen, (2, )),
                       unseen_cats)
    if holdout_seen:
        val_seen = only_seen & ~closed_train
        out['open_val_seen'] = (np.flatnonzero(val_seen),
                                anns_of(val_seen, (1, )), seen_cats)
        general = val_seen | has_unseen
        out['open_val_generalized'] = (np.flatnonzero(general),
                                       anns_of(general, (1, 2)), both_cats)
    return out


def closed_members(arrays: AnnotationArrays,
                   closed_train: np.ndarray) -> Dict[str, Tuple]:
    """Images, annotations and categories of the closed-split files.

    Args:
        arrays (AnnotationArrays): The dataset.
        closed_train (np.ndarray): ``(N,)`` bool train mask.

    Returns:
        dict[str, tuple]: ``closed_train`` and ``closed_val``, each as image,
        annotation and category indices.
    """
    cats = np.arange(arrays.num_categories)
    ann_train = closed_train[arrays.ann_image]
    return dict(
        closed_train=(np.flatnonzero(closed_train), np.flatnonzero(ann_train),
                      cats),
        closed_val=(np.flatnonzero(~closed_train), np.flatnonzero(~ann_train),
                    cats))


def per_class_split_counts(arrays: AnnotationArrays,
                           train_mask: np.ndarray) -> Dict[str, np.ndarray]:
    """Images containing each class, in train and in val.

    Args:
        arrays (AnnotationArrays): The dataset.
        train_mask (np.ndarray): ``(N,)`` bool train images.

    Returns:
        dict[str, np.ndarray]: ``train`` and ``val``, ``(K,)`` int64 each.
    """
    pair_image, pair_label = image_class_pairs(arrays)
    k = arrays.num_categories
    train = np.bincount(
        pair_label, weights=train_mask[pair_image], minlength=k)
    total = np.bincount(pair_label, minlength=k)
    return dict(train=train.astype(np.int64),
                val=(total - train).astype(np.int64))


def write_similarity_csv(path: str, arrays: AnnotationArrays,
                         classes: OpenClassSplit) -> None:
    """Write the ``(K, K)`` similarity table with each class's role.

    Columns: ``id``, ``name``, ``role`` (seen / unseen / isolated), then one
    column per class (by name) with the cosine similarity, 6 decimals.

    Args:
        path (str): Output CSV.
        arrays (AnnotationArrays): The dataset (class ids and names).
        classes (OpenClassSplit): The split, with ``similarity``.
    """
    role_names = np.array(['isolated', 'seen', 'unseen'])
    roles = role_names[classes.roles(arrays.num_categories)]
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w', encoding='utf-8', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['id', 'name', 'role', *arrays.names])
        for i, row in enumerate(classes.similarity):
            writer.writerow([
                int(arrays.category_ids[i]), arrays.names[i], roles[i],
                *[f'{v:.6f}' for v in row]
            ])


def open_class_record(arrays: AnnotationArrays,
                      classes: OpenClassSplit) -> dict:
    """The seen / unseen / isolated lists as a JSON-able dict.

    Every unseen class lists its most similar seen class; every seen or
    isolated class its most similar other class (when the table is known).

    Args:
        arrays (AnnotationArrays): The dataset.
        classes (OpenClassSplit): The split.

    Returns:
        dict: ``params``, ``num_seen``, ``num_unseen``, ``num_isolated``,
        ``target_unseen``, ``seen``, ``unseen``, ``isolated``.
    """
    sim = classes.similarity

    def entry(i: int, among: Optional[np.ndarray]) -> dict:
        rec = dict(id=int(arrays.category_ids[i]), name=arrays.names[i])
        if sim is not None:
            others = among[among != i] if among is not None else np.delete(
                np.arange(len(sim)), i)
            if len(others):
                j = int(others[np.argmax(sim[i, others])])
                rec.update(
                    nearest=arrays.names[j],
                    similarity=round(float(sim[i, j]), 6),
                    distance=round(float(1 - sim[i, j]), 6))
        return rec

    return dict(
        params=classes.params,
        num_seen=len(classes.seen),
        num_unseen=len(classes.unseen),
        num_isolated=len(classes.isolated),
        target_unseen=classes.target_unseen,
        seen=[entry(i, None) for i in classes.seen.tolist()],
        unseen=[entry(i, classes.seen) for i in classes.unseen.tolist()],
        isolated=[entry(i, None) for i in classes.isolated.tolist()])


def load_open_classes(path: str, names: Sequence[str]) -> OpenClassSplit:
    """Read seen / unseen lists from a JSON file.

    Args:
        path (str): ``{"seen": [...], "unseen": [...]}`` where the entries
            are class names or ``{"name": ...}`` records (the
            ``open_classes.json`` written by :func:`split_mmioc`).
        names (Sequence[str]): The ``K`` category names.

    Returns:
        OpenClassSplit: The split (no similarity table).
    """
    data = load_json(path, 'open class list')
    if not isinstance(data, dict) or not all(
            isinstance(data.get(k), list) for k in ('seen', 'unseen')):
        raise ValueError(f'{path}: expected {{"seen": [...], "unseen": '
                         f'[...]}}')

    def name_list(items: list) -> List[str]:
        return [i['name'] if isinstance(i, dict) else i for i in items]

    try:
        split = OpenClassSplit.from_names(names, name_list(data['seen']),
                                          name_list(data['unseen']))
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f'{path}: {err}') from None
    split.params = dict(rule='explicit lists', source=path)
    return split


def build_splits(data: dict,
                 arrays: Optional[AnnotationArrays] = None,
                 closed_ratio: float = 0.7,
                 seed: int = 0,
                 open_classes: Optional[OpenClassSplit] = None,
                 holdout_seen: bool = True,
                 closed: bool = True) -> Tuple[Dict[str, dict], dict]:
    """Build the annotation dicts of every split (nothing is written).

    Args:
        data (dict): The full annotation dict (records are shared, not
            copied, by the outputs).
        arrays (AnnotationArrays, optional): ``data`` as arrays (built if not
            given).
        closed_ratio (float): Train share of the closed split.
        seed (int): Seed of the closed split.
        open_classes (OpenClassSplit, optional): Seen / unseen classes;
            ``None``: no open split.
        holdout_seen (bool): See the module docstring.
        closed (bool): Return the closed-split files. Defaults to True.

    Returns:
        tuple[dict[str, dict], dict]: Annotation dict per split name, and a
        summary (counts per split and per class).
    """
    if arrays is None:
        arrays = AnnotationArrays.from_dict(data)
    train = closed_split(arrays, closed_ratio, seed)
    members: Dict[str, Tuple] = {}
    if closed:
        members.update(closed_members(arrays, train))
    if open_classes is not None:
        if len(open_classes.seen) == 0 or len(open_classes.unseen) == 0:
            raise ValueError(
                f'open split: {len(open_classes.seen)} seen and '
                f'{len(open_classes.unseen)} unseen classes; both must be '
                f'non-empty (change the threshold or the encoder)')
        members.update(
            open_members(arrays, open_classes, train, holdout_seen))
    info = dict(seed=int(seed), closed_ratio=float(closed_ratio))
    splits = {
        name: subset_dict(data, img, ann, cat, name, info)
        for name, (img, ann, cat) in members.items()
    }
    has_box = np.zeros(arrays.num_images, dtype=bool)
    has_box[arrays.ann_image] = True
    counts = per_class_split_counts(arrays, train)
    summary = dict(
        seed=int(seed),
        closed_ratio=float(closed_ratio),
        splits={
            name: dict(
                images=len(img),
                defect_free_images=int((~has_box[img]).sum()),
                annotations=len(ann),
                categories=len(cat),
                vocabulary=SPLIT_VOCABULARY[name])
            for name, (img, ann, cat) in members.items()
        },
        closed_per_class=[
            dict(
                id=int(cid),
                name=name,
                train_images=int(t),
                val_images=int(v),
                train_share=round(float(t / (t + v)), 4) if t + v else None)
            for cid, name, t, v in zip(arrays.category_ids.tolist(),
                                       arrays.names, counts['train'],
                                       counts['val'])
        ])
    return splits, summary


def split_mmioc(ann_file: Union[str, dict],
                out_dir: str,
                closed_ratio: float = 0.7,
                seed: int = 0,
                closed: bool = True,
                open_split: bool = True,
                encoder: Any = None,
                embeddings: Optional[np.ndarray] = None,
                class_lists: Optional[str] = None,
                threshold: float = 0.1,
                unseen_ratio: float = PAPER_UNSEEN_RATIO,
                text_mode: str = 'canonical',
                isolated_seen: bool = False,
                holdout_seen: bool = True,
                indent: bool = False,
                progress: bool = False) -> dict:
    """Split an MMIOC annotation file and write every output.

    Writes, under ``out_dir``:

    - ``annotations/<split>.json`` for the closed and/or open splits;
    - ``texts/<vocabulary>_class_texts.json`` (YOLO-World format, aligned
      with the categories of the matching annotation files);
    - ``splits/split_summary.json``: parameters and counts;
    - for the open split: ``splits/open_classes.json`` (seen, unseen and
      isolated classes with their nearest classes) and
      ``splits/open_similarity.csv`` (the similarity table).

    The seen / unseen classes come from ``class_lists`` (a JSON of names),
    else from ``embeddings``, else from ``encoder``.

    Args:
        ann_file (str | dict): The full annotation file (or its dict).
        out_dir (str): Data root to write into.
        closed_ratio (float): Train share of the closed split.
        seed (int): Seed of the splits.
        closed (bool): Write the closed split.
        open_split (bool): Write the open split.
        encoder (dict | BaseTextEncoder, optional): Text encoder (config).
        embeddings (np.ndarray, optional): ``(K, D)`` class embeddings.
        class_lists (str, optional): JSON with ``seen`` / ``unseen`` names.
        threshold (float): Cosine-distance threshold.
        unseen_ratio (float): Unseen share among classes with a neighbour.
        text_mode (str): ``'canonical'`` or ``'mean'``.
        isolated_seen (bool): Isolated classes become seen.
        holdout_seen (bool): See the module docstring.
        indent (bool): Indent the JSON outputs.
        progress (bool): Show progress bars.

    Returns:
        dict: The summary (also written to ``splits/split_summary.json``),
        with the wall time of each step in ``timing``.
    """
    from tqdm import tqdm
    timing = {}
    start = time.perf_counter()
    if isinstance(ann_file, dict):
        data, source = ann_file, '<dict>'
    else:
        data, source = load_mmioc(ann_file), ann_file
    timing['load'] = time.perf_counter() - start
    start = time.perf_counter()
    arrays = AnnotationArrays.from_dict(data, source)
    timing['arrays'] = time.perf_counter() - start

    open_classes = None
    if open_split:
        start = time.perf_counter()
        if class_lists is not None:
            open_classes = load_open_classes(class_lists, arrays.names)
        else:
            if embeddings is None:
                if encoder is None:
                    raise ValueError('the open split needs class_lists, '
                                     'embeddings or a text encoder')
                embeddings = encode_class_texts(arrays.texts, encoder,
                                                text_mode)
            embeddings = np.asarray(embeddings)
            if embeddings.shape[0] != arrays.num_categories:
                raise ValueError(
                    f'{len(embeddings)} class embeddings for '
                    f'{arrays.num_categories} categories of {source}')
            open_classes = select_open_classes(embeddings, threshold,
                                               unseen_ratio, seed,
                                               isolated_seen)
            open_classes.params['text_mode'] = text_mode
            if isinstance(encoder, dict):
                open_classes.params['encoder'] = encoder
        timing['open_classes'] = time.perf_counter() - start

    start = time.perf_counter()
    splits, summary = build_splits(data, arrays, closed_ratio, seed,
                                   open_classes, holdout_seen, closed)
    timing['build'] = time.perf_counter() - start

    start = time.perf_counter()
    jobs = [(osp.join(out_dir, 'annotations', f'{name}.json'), split)
            for name, split in splits.items()]
    vocabularies = sorted({SPLIT_VOCABULARY[name] for name in splits},
                          key=list(TEXT_FILES).index)
    for vocab in vocabularies:
        first = next(n for n in splits if SPLIT_VOCABULARY[n] == vocab)
        jobs.append((osp.join(out_dir, 'texts', TEXT_FILES[vocab]),
                     class_texts(splits[first]['categories'])))
    if open_classes is not None:
        record = open_class_record(arrays, open_classes)
        summary['open_classes'] = {
            k: record[k]
            for k in ('num_seen', 'num_unseen', 'num_isolated',
                      'target_unseen', 'params')
        }
        jobs.append((osp.join(out_dir, 'splits', 'open_classes.json'),
                     record))
        if open_classes.similarity is not None:
            write_similarity_csv(
                osp.join(out_dir, 'splits', 'open_similarity.csv'), arrays,
                open_classes)
    summary['source'] = source
    summary['files'] = [osp.relpath(p, out_dir) for p, _ in jobs]
    for path, obj in tqdm(
            jobs, desc='writing', unit='file', disable=not progress):
        # annotation files are big: indented only on request
        small = osp.basename(osp.dirname(path)) != 'annotations'
        dump_json(obj, path, indent=indent or small)
    timing['write'] = time.perf_counter() - start
    summary['timing'] = {k: round(v, 3) for k, v in timing.items()}
    dump_json(summary, osp.join(out_dir, 'splits', 'split_summary.json'),
              indent=True)
    return summary
