# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Helpers building tiny source datasets for the converter tests."""
import hashlib
import importlib.util
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Tuple

import numpy as np
from PIL import Image

REPO_ROOT = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
TOOLS_DIR = osp.join(REPO_ROOT, 'tools', 'dataset_converters')

CLASSES = {
    'scratch':
    dict(
        supercategory='metal',
        scene='steel',
        name='scratch on steel',
        texts=['scratch on steel', 'a scratched steel strip']),
    'hole':
    dict(
        supercategory='wood',
        scene='wood',
        name='hole in wood',
        texts=['hole in wood']),
}


def write_mapping(path: str, classes: Optional[dict] = None, **top) -> str:
    """Write a JSON mapping file (default: CLASSES) and return its path."""
    data = dict(classes=CLASSES if classes is None else classes, **top)
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(data, f, ensure_ascii=False)
    return path


def save_image(path: str,
               width: int,
               height: int,
               mode: str = 'RGB',
               seed: int = 0) -> str:
    """Write a random image of the given PIL mode (``'I;16'`` = 16-bit)."""
    rng = np.random.default_rng(seed)
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    if mode == 'I;16':
        arr = (rng.random((height, width)) * 65535).astype(np.uint16)
        img = Image.fromarray(arr)
    elif mode == 'L':
        img = Image.fromarray((rng.random(
            (height, width)) * 255).astype(np.uint8), 'L')
    else:
        channels = len(mode)
        arr = (rng.random((height, width, channels)) * 255).astype(np.uint8)
        img = Image.fromarray(arr, mode)
    img.save(path)
    return path


def write_text(path: str, text: str) -> str:
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)
    return path


def write_bytes(path: str, data: bytes) -> str:
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)
    return path


def snapshot(root: str) -> Dict[str, Tuple[str, int, bool]]:
    """{relative path: (sha1, mtime_ns, is_link)} of every file under root
    (to check that a conversion leaves its source untouched)."""
    out = {}
    for dirpath, dirnames, names in os.walk(root):
        for name in names + [d for d in dirnames]:
            path = osp.join(dirpath, name)
            if osp.isdir(path) and not osp.islink(path):
                out[osp.relpath(path, root)] = ('dir', 0, False)
                continue
            with open(path, 'rb') as f:
                digest = hashlib.sha1(f.read()).hexdigest()
            out[osp.relpath(path, root)] = (digest, os.lstat(path).st_mtime_ns,
                                            osp.islink(path))
    return out


def read_outputs(out_dir: str, name: str) -> Tuple[dict, dict]:
    """(annotation json, rejection report json) of a conversion."""
    with open(
            osp.join(out_dir, 'annotations', f'{name}.json'),
            encoding='utf-8') as f:
        ann = json.load(f)
    with open(
            osp.join(out_dir, 'reports', f'{name}_rejections.json'),
            encoding='utf-8') as f:
        report = json.load(f)
    return ann, report


def check_reconciled(report: dict, ann: Optional[dict] = None) -> None:
    """Assert input = converted + rejected for boxes and images, from the
    itemised lists (not only the stored totals)."""
    s = report['summary']
    rejected_boxes = sum(r.get('boxes', 1) for r in report['rejections'])
    assert s['rejected_boxes'] == rejected_boxes
    assert s['input_boxes'] == s['converted_boxes'] + rejected_boxes
    assert s['input_images'] == (
        s['converted_images'] + len(report['rejected_images']))
    assert s['clipped_boxes'] == len(report['clipped'])
    assert s['reconciles'] is True
    if ann is not None:
        assert s['converted_boxes'] == len(ann['annotations'])
        assert s['converted_images'] == len(ann['images'])


def entries(report: dict, reason: str) -> List[Tuple[str, str]]:
    """(file, record) of the box rejections with ``reason``."""
    return [(r['file'], r['record']) for r in report['rejections']
            if r['reason'] == reason]


def boxes_by_image(ann: dict) -> Dict[str, List[Tuple[str, List[float]]]]:
    """{file_name: [(category name, bbox), ...]} of an annotation file."""
    cats = {c['id']: c['name'] for c in ann['categories']}
    names = {im['id']: im['file_name'] for im in ann['images']}
    out: Dict[str, list] = {im['file_name']: [] for im in ann['images']}
    for a in ann['annotations']:
        out[names[a['image_id']]].append((cats[a['category_id']], a['bbox']))
    return out


def load_tool(name: str):
    """Import ``tools/dataset_converters/<name>.py`` as a module."""
    spec = importlib.util.spec_from_file_location(
        f'_tool_{name}', osp.join(TOOLS_DIR, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
