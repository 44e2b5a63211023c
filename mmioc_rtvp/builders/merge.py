# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Merge converted sources into one MMIOC dataset.

Inputs are MMIOC annotation files (e.g. written by the converters) with
their image directories. The merged dataset has:

- categories: the union of the sources' categories, identified by ``name``
  (the same name with another supercategory or scene is an error; differing
  prompt lists are united, the first source's canonical prompt first), in
  taxonomy order: (supercategory, scene) as listed in the taxonomy file,
  then name. Their ids are ``1..K`` in that order.
- images: ``file_name = <source>/<source file_name>``, sources in name order,
  images in file-name order; ids ``1..N`` in that order.
- annotations: in image order, then in source annotation-id order.

So a re-run on the same inputs writes identical ids. To keep ids stable
when sources change, pass the previous merged file as ``keep_ids_from``:
images (by ``file_name``), categories (by name) and annotations (by image,
category, box) already there keep their ids; new ones get ids after the
largest previous id, in the order above (category ids then no longer follow
the taxonomy order, but the ``categories`` list still does).

Duplicate images (same content hash, within or across sources) are
reported; by default only the first (in the order above) is kept, with its
annotations (``duplicates='keep-all'`` keeps all of them).
"""
import math
import os.path as osp
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from mmioc_rtvp.format.file_io import is_within, read_json, write_json
from mmioc_rtvp.format.taxonomy import Taxonomy
from .converters.image_io import IMAGE_MODES, hash_file, place_image
from .parallel import parallel_map

DUPLICATE_POLICIES = ('keep-first', 'keep-all')


class MergeError(ValueError):
    """An input cannot be merged (the message names the file and record)."""


@dataclass
class MergeSource:
    """One converted source.

    Args:
        name (str): Source name: the sub-directory of its images in the
            merged dataset.
        ann_file (str): Its MMIOC annotation file.
        img_dir (str, optional): Directory its ``file_name`` entries are
            relative to. Defaults to ``<ann_file dir>/../images`` (the
            converters' output layout).
    """
    name: str
    ann_file: str
    img_dir: Optional[str] = None

    def __post_init__(self) -> None:
        if self.img_dir is None:
            self.img_dir = osp.join(
                osp.dirname(osp.dirname(osp.abspath(self.ann_file))), 'images')

    @classmethod
    def parse(cls, spec: str) -> 'MergeSource':
        """From ``'NAME=ANN_FILE'`` or ``'ANN_FILE'`` (name = file stem)."""
        if '=' in spec:
            name, ann_file = spec.split('=', 1)
        else:
            ann_file = spec
            name = osp.splitext(osp.basename(spec))[0]
        return cls(name, ann_file)


def _check_record(cond: bool, where: str, message: str) -> None:
    if not cond:
        raise MergeError(f'{where}: {message}')


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _load_source(source: MergeSource) -> dict:
    """Read and structurally check one source."""
    path = source.ann_file
    try:
        data = read_json(path, f'annotation file of source {source.name}')
    except (FileNotFoundError, ValueError) as err:
        raise MergeError(str(err))
    _check_record(
        isinstance(data, dict) and all(
            isinstance(data.get(k), list)
            for k in ('images', 'annotations', 'categories')), path,
        "expected an object with 'images', 'annotations' and 'categories' "
        'lists')
    cat_ids = set()
    for k, cat in enumerate(data['categories']):
        where = f'{path}: categories[{k}]'
        _check_record(isinstance(cat, dict), where, 'not an object')
        _check_record(_is_id(cat.get('id')), where, 'id must be an integer')
        _check_record(cat['id'] not in cat_ids, where,
                      f"duplicate category id {cat['id']}")
        cat_ids.add(cat['id'])
        for key in ('name', 'supercategory', 'scene'):
            _check_record(
                isinstance(cat.get(key), str) and cat[key], where,
                f"'{key}' must be a non-empty string")
        texts = cat.get('texts')
        _check_record(
            isinstance(texts, list) and texts
            and all(isinstance(t, str) and t for t in texts), where,
            "'texts' must be a non-empty list of prompts")
    names = [c['name'] for c in data['categories']]
    dup = {n for n in names if names.count(n) > 1}
    _check_record(not dup, path, f'category names repeated: {sorted(dup)}')
    image_ids = set()
    file_names = set()
    for k, img in enumerate(data['images']):
        where = f'{path}: images[{k}]'
        _check_record(isinstance(img, dict), where, 'not an object')
        _check_record(_is_id(img.get('id')), where, 'id must be an integer')
        _check_record(img['id'] not in image_ids, where,
                      f"duplicate image id {img['id']}")
        _check_record(
            isinstance(img.get('file_name'), str) and img['file_name'], where,
            'file_name must be a non-empty string')
        _check_record(img['file_name'] not in file_names, where,
                      f"duplicate file_name {img['file_name']}")
        image_ids.add(img['id'])
        file_names.add(img['file_name'])
    ann_ids = set()
    for k, ann in enumerate(data['annotations']):
        where = f'{path}: annotations[{k}]'
        _check_record(isinstance(ann, dict), where, 'not an object')
        _check_record(_is_id(ann.get('id')), where, 'id must be an integer')
        _check_record(ann['id'] not in ann_ids, where,
                      f"duplicate annotation id {ann['id']}")
        ann_ids.add(ann['id'])
        _check_record(
            ann.get('image_id') in image_ids, where,
            f"image_id {ann.get('image_id')!r} is not an image")
        _check_record(
            ann.get('category_id') in cat_ids, where,
            f"category_id {ann.get('category_id')!r} is not a "
            'category')
        bbox = ann.get('bbox')
        _check_record(
            isinstance(bbox, list) and len(bbox) == 4 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool)
                and math.isfinite(v)
                for v in bbox) and bbox[2] > 0 and bbox[3] > 0, where,
            f'bbox must be [x, y, w, h] with w, h > 0, got {bbox!r}')
    return data


def _box_key(bbox: Sequence[float]) -> Tuple[float, ...]:
    return tuple(round(float(v), 3) for v in bbox)


class MergeReport:
    """What the merge kept, dropped and found.

    Args:
        name (str): Merged dataset name.
        sources (list[MergeSource]): The inputs, in merge order.
    """

    def __init__(self, name: str, sources: List[MergeSource]) -> None:
        self.name = name
        self.sources = sources
        self.per_source: Dict[str, Dict[str, int]] = {}
        self.input_images = 0
        self.input_boxes = 0
        self.kept_images = 0
        self.kept_boxes = 0
        self.duplicate_groups: List[dict] = []
        self.dropped_duplicates: List[dict] = []
        self.missing_images: List[dict] = []
        self.texts_merged: List[dict] = []
        self.categories: List[dict] = []
        self.outputs: Dict[str, str] = {}

    @property
    def dropped_boxes(self) -> int:
        """Boxes dropped with duplicate or missing images."""
        return sum(d['boxes']
                   for d in self.dropped_duplicates + self.missing_images)

    def reconciles(self) -> bool:
        """Whether input = kept + dropped, for images and boxes."""
        return (self.input_images == self.kept_images +
                len(self.dropped_duplicates) + len(self.missing_images)
                and self.input_boxes == self.kept_boxes + self.dropped_boxes)

    def to_dict(self) -> Dict[str, Any]:
        """The report as JSON-serialisable data."""
        return dict(
            name=self.name,
            sources=[
                dict(
                    name=s.name,
                    ann_file=osp.abspath(s.ann_file),
                    img_dir=osp.abspath(s.img_dir),
                    **self.per_source.get(s.name, {})) for s in self.sources
            ],
            summary=dict(
                input_images=self.input_images,
                kept_images=self.kept_images,
                dropped_duplicate_images=len(self.dropped_duplicates),
                missing_images=len(self.missing_images),
                input_boxes=self.input_boxes,
                kept_boxes=self.kept_boxes,
                dropped_boxes=self.dropped_boxes,
                duplicate_groups=len(self.duplicate_groups),
                categories=len(self.categories),
                reconciles=self.reconciles()),
            duplicate_groups=self.duplicate_groups,
            dropped_duplicates=self.dropped_duplicates,
            missing_images=self.missing_images,
            texts_merged=self.texts_merged,
            categories=self.categories)

    def format_summary(self) -> str:
        """A short human-readable summary."""
        cross = sum(1 for g in self.duplicate_groups if g['across_sources'])
        differ = sum(1 for g in self.duplicate_groups if g['labels_differ'])
        lines = [
            f'[{self.name}] merged {len(self.sources)} source(s): ' +
            ', '.join(s.name for s in self.sources),
            f'images: input {self.input_images} = kept {self.kept_images} + '
            f'dropped duplicates {len(self.dropped_duplicates)} + missing '
            f'{len(self.missing_images)}',
            f'input boxes {self.input_boxes} = kept {self.kept_boxes} + '
            f'dropped with their image {self.dropped_boxes}',
            f'duplicate images: {len(self.duplicate_groups)} group(s) '
            f'({cross} across sources, {differ} with differing labels)',
            f'categories: {len(self.categories)} (taxonomy order); prompt '
            f'lists united for {len(self.texts_merged)}',
        ]
        for key, path in self.outputs.items():
            lines.append(f'{key}: {path}')
        if not self.reconciles():
            lines.append('ERROR: the counts do not reconcile (a bug)')
        return '\n'.join(lines)


def _merge_categories(
        sources: List[MergeSource], datas: List[dict], taxonomy: Taxonomy,
        report: MergeReport) -> Tuple[Dict[str, dict], List[str]]:
    """United categories by name, and their names in taxonomy order."""
    merged: Dict[str, dict] = {}
    origin: Dict[str, str] = {}
    for source, data in zip(sources, datas):
        for cat in data['categories']:
            where = f"{source.ann_file}: category '{cat['name']}'"
            reason = taxonomy.check(cat['supercategory'], cat['scene'])
            if reason is not None:
                raise MergeError(f'{where}: {reason} (taxonomy '
                                 f'{taxonomy.name})')
            name = cat['name']
            if name not in merged:
                merged[name] = dict(
                    name=name,
                    supercategory=cat['supercategory'],
                    scene=cat['scene'],
                    texts=list(cat['texts']))
                origin[name] = source.name
                continue
            have = merged[name]
            for key in ('supercategory', 'scene'):
                if cat[key] != have[key]:
                    raise MergeError(
                        f"{where}: {key} '{cat[key]}' differs from "
                        f"'{have[key]}' in source {origin[name]}")
            new = [t for t in cat['texts'] if t not in have['texts']]
            if new:
                have['texts'].extend(new)
                report.texts_merged.append(
                    dict(category=name, source=source.name, added=new))
    order = sorted(
        merged,
        key=lambda n: taxonomy.sort_key(merged[n]['supercategory'], merged[n][
            'scene'], n))
    return merged, order


def _assign_ids(keys: List[Any], previous: Dict[Any, int]) -> List[int]:
    """Ids for ``keys`` (in order): previous ids kept, new ones after the
    largest previous id."""
    next_id = max(previous.values(), default=0) + 1
    ids = []
    for key in keys:
        if key in previous:
            ids.append(previous[key])
        else:
            ids.append(next_id)
            next_id += 1
    return ids


def _previous_ids(
        path: str) -> Tuple[Dict[str, int], Dict[str, int], Dict[Tuple, int]]:
    """Image, category and annotation ids of a previous merged file."""
    data = read_json(path, 'previous merged annotation file')
    cats = {c['id']: c['name'] for c in data['categories']}
    images = {im['id']: im['file_name'] for im in data['images']}
    ann_ids: Dict[Tuple, int] = {}
    seen: Dict[Tuple, int] = defaultdict(int)
    for ann in sorted(data['annotations'], key=lambda a: a['id']):
        base = (images[ann['image_id']], cats[ann['category_id']],
                _box_key(ann['bbox']))
        ann_ids[base + (seen[base], )] = ann['id']
        seen[base] += 1
    return ({
        v: k
        for k, v in images.items()
    }, {
        v: k
        for k, v in cats.items()
    }, ann_ids)


def merge_mmioc(sources: Sequence[Union[MergeSource, str]],
                out_dir: str,
                name: str = 'all',
                taxonomy: Union[None, str, Taxonomy] = None,
                image_mode: str = 'copy',
                duplicates: str = 'keep-first',
                keep_ids_from: Optional[str] = None,
                num_workers: int = 0,
                progress: bool = False) -> MergeReport:
    """Merge converted sources (see the module docstring).

    Writes ``<out_dir>/annotations/<name>.json``,
    ``<out_dir>/texts/<name>_class_texts.json`` (YOLO-World format),
    ``<out_dir>/images/<source>/...`` and
    ``<out_dir>/reports/<name>_merge.json`` / ``_merge_summary.txt``.

    Args:
        sources (list[MergeSource | str]): Inputs (a str is parsed by
            :meth:`MergeSource.parse`).
        out_dir (str): Output root; must not be inside a source.
        name (str): Merged dataset name. Defaults to ``'all'``.
        taxonomy (str | Taxonomy, optional): Defaults to the starting
            taxonomy.
        image_mode (str): ``'copy'``, ``'hardlink'`` or ``'symlink'``.
        duplicates (str): ``'keep-first'`` (default) or ``'keep-all'``.
        keep_ids_from (str, optional): A previous merged annotation file
            whose ids are kept.
        num_workers (int): Threads hashing and copying images (results do
            not depend on it). Defaults to 0.
        progress (bool): Show progress bars. Defaults to False.

    Returns:
        MergeReport: Counts, duplicates and outputs.

    Raises:
        MergeError: An input is invalid or inconsistent (the message names
            the file and record).
        ValueError: An option is invalid.
    """
    if duplicates not in DUPLICATE_POLICIES:
        raise ValueError(f'duplicates must be one of {DUPLICATE_POLICIES}, '
                         f'got {duplicates!r}')
    if image_mode not in IMAGE_MODES:
        raise ValueError(f'image_mode must be one of {IMAGE_MODES}, got '
                         f'{image_mode!r}')
    if not name or '/' in name or name.startswith('.'):
        raise ValueError(f'dataset name {name!r} must be a plain file name')
    sources = [
        s if isinstance(s, MergeSource) else MergeSource.parse(s)
        for s in sources
    ]
    if not sources:
        raise ValueError('no source to merge')
    names = [s.name for s in sources]
    for s in sources:
        if not s.name or '/' in s.name or '\\' in s.name or \
                s.name.startswith('.'):
            raise MergeError(f'source name {s.name!r} must be a plain '
                             'directory name')
        if names.count(s.name) > 1:
            raise MergeError(f"source name '{s.name}' is given twice")
        if not osp.isfile(s.ann_file):
            raise MergeError(f'annotation file of source {s.name} not '
                             f'found: {s.ann_file}')
        out_images = osp.join(out_dir, 'images')
        out_ann = osp.join(out_dir, 'annotations', f'{name}.json')
        if (is_within(out_dir, s.img_dir) or is_within(out_images, s.img_dir)
                or is_within(s.img_dir, out_images) or
            (osp.exists(out_ann) and osp.samefile(out_ann, s.ann_file))):
            raise MergeError(f'output directory {out_dir} overlaps source '
                             f'{s.name} (images {s.img_dir}, annotations '
                             f'{s.ann_file}); choose another one')
    sources = sorted(sources, key=lambda s: s.name)
    taxonomy = (
        taxonomy
        if isinstance(taxonomy, Taxonomy) else Taxonomy.load(taxonomy))
    report = MergeReport(name, sources)
    datas = [_load_source(s) for s in sources]
    merged_cats, cat_order = _merge_categories(sources, datas, taxonomy,
                                               report)

    # images in merge order, with their annotations
    entries = []  # (source, image record, [annotations])
    for source, data in zip(sources, datas):
        anns_of = defaultdict(list)
        for ann in sorted(data['annotations'], key=lambda a: a['id']):
            anns_of[ann['image_id']].append(ann)
        cat_name = {c['id']: c['name'] for c in data['categories']}
        for img in sorted(data['images'], key=lambda im: im['file_name']):
            entries.append((source, img, anns_of[img['id']], cat_name))
        report.per_source[source.name] = dict(
            images=len(data['images']), boxes=len(data['annotations']))
    report.input_images = len(entries)
    report.input_boxes = sum(len(e[2]) for e in entries)

    paths = [
        osp.join(source.img_dir, *img['file_name'].split('/'))
        for source, img, _, _ in entries
    ]
    hashes = parallel_map(lambda p: hash_file(p) if osp.isfile(p) else None,
                          paths, num_workers, progress, f'[{name}] hash images')

    kept = []  # (merged file_name, source, img, anns, cat_name, path)
    first_of: Dict[str, int] = {}
    groups: Dict[str, List[int]] = defaultdict(list)
    for i, ((source, img, anns, cat_name), path,
            digest) in enumerate(zip(entries, paths, hashes)):
        merged_name = f"{source.name}/{img['file_name']}"
        if digest is None:
            report.missing_images.append(
                dict(
                    source=source.name,
                    file_name=img['file_name'],
                    path=path,
                    boxes=len(anns)))
            continue
        groups[digest].append(i)
        if digest in first_of and duplicates == 'keep-first':
            continue
        first_of.setdefault(digest, i)
        kept.append((merged_name, source, img, anns, cat_name, path))

    def labels(i: int) -> set:
        _, img, anns, cat_name = entries[i]
        return {(cat_name[a['category_id']], _box_key(a['bbox']))
                for a in anns}

    for digest, members in groups.items():
        if len(members) < 2:
            continue
        first = members[0]
        reference = labels(first)
        group = dict(
            sha1=digest,
            images=[
                dict(
                    source=entries[i][0].name,
                    file_name=entries[i][1]['file_name'],
                    boxes=len(entries[i][2]),
                    kept=(duplicates == 'keep-all' or i == first))
                for i in members
            ],
            across_sources=len({entries[i][0].name
                                for i in members}) > 1,
            labels_differ=any(labels(i) != reference for i in members[1:]))
        report.duplicate_groups.append(group)
        if duplicates == 'keep-first':
            for i in members[1:]:
                report.dropped_duplicates.append(
                    dict(
                        source=entries[i][0].name,
                        file_name=entries[i][1]['file_name'],
                        boxes=len(entries[i][2]),
                        duplicate_of=f'{entries[first][0].name}/'
                        f"{entries[first][1]['file_name']}",
                        sha1=digest))

    # ids
    prev_images: Dict[str, int] = {}
    prev_cats: Dict[str, int] = {}
    prev_anns: Dict[Tuple, int] = {}
    if keep_ids_from is not None:
        try:
            prev_images, prev_cats, prev_anns = _previous_ids(keep_ids_from)
        except (FileNotFoundError, ValueError, KeyError, TypeError) as err:
            raise MergeError(f'{keep_ids_from}: cannot read previous ids: '
                             f'{err!r}')
    cat_ids = dict(zip(cat_order, _assign_ids(cat_order, prev_cats)))
    image_ids = _assign_ids([k[0] for k in kept], prev_images)

    out_images, ann_keys, ann_records = [], [], []
    seen: Dict[Tuple, int] = defaultdict(int)
    for (merged_name, source, img, anns, cat_name,
         _), image_id in zip(kept, image_ids):
        record = dict(img)
        record['id'] = image_id
        record['file_name'] = merged_name
        out_images.append(record)
        for ann in anns:
            cname = cat_name[ann['category_id']]
            base = (merged_name, cname, _box_key(ann['bbox']))
            ann_keys.append(base + (seen[base], ))
            seen[base] += 1
            new = dict(ann)
            new['image_id'] = image_id
            new['category_id'] = cat_ids[cname]
            ann_records.append(new)
    for ann, ann_id in zip(ann_records, _assign_ids(ann_keys, prev_anns)):
        ann['id'] = ann_id
    report.kept_images = len(out_images)
    report.kept_boxes = len(ann_records)
    if not report.reconciles():
        raise RuntimeError(f'merge counts do not reconcile: '
                           f'{report.to_dict()["summary"]}')

    categories = []
    for cname in cat_order:
        cat = dict(id=cat_ids[cname], **merged_cats[cname])
        categories.append(cat)
    report.categories = [
        dict(
            id=c['id'],
            name=c['name'],
            scene=c['scene'],
            supercategory=c['supercategory']) for c in categories
    ]

    placements = [(path, osp.join(out_dir, 'images',
                                  *merged_name.split('/')), image_mode)
                  for merged_name, _, _, _, _, path in kept]
    parallel_map(lambda t: place_image(*t), placements, num_workers,
                 progress, f'[{name}] place images')

    ann_path = osp.join(out_dir, 'annotations', f'{name}.json')
    texts_path = osp.join(out_dir, 'texts', f'{name}_class_texts.json')
    report_path = osp.join(out_dir, 'reports', f'{name}_merge.json')
    summary_path = osp.join(out_dir, 'reports', f'{name}_merge_summary.txt')
    write_json(
        dict(
            info=dict(
                description=f'{name}: merged by mmioc_rtvp.builders from '
                f'{len(sources)} source(s)',
                version='1.0',
                split='all',
                sources=[s.name for s in sources],
                taxonomy=f'{taxonomy.name} {taxonomy.version}'.strip()),
            images=out_images,
            annotations=ann_records,
            categories=categories), ann_path)
    write_json([c['texts'] for c in categories], texts_path, indent=True)
    report.outputs = dict(
        annotations=ann_path,
        class_texts=texts_path,
        report=report_path,
        summary=summary_path)
    write_json(report.to_dict(), report_path, indent=True)
    with open(summary_path, 'w', encoding='utf-8') as f:
        f.write(report.format_summary() + '\n')
    return report


__all__ = [
    'MergeSource', 'MergeReport', 'MergeError', 'merge_mmioc',
    'DUPLICATE_POLICIES'
]
