# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Helpers of the web demo tests (projects/web_demo): images, a tiny random
YOLO-World config + checkpoint, a free port."""
import contextlib
import io
import json
import os
import os.path as osp
import socket
import subprocess
import sys
import time
from typing import Iterator, List, Sequence

import numpy as np
from PIL import Image

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
APP = osp.join(REPO_ROOT, 'projects', 'web_demo', 'app.py')

#: The vocabulary the tiny model knows (a precomputed 16-d table).
PROMPTS = ('scratch on metal', 'hole in wood', 'stain on fabric',
           'crack in concrete', 'missing screw', 'spot on glass')


def png_bytes(image: np.ndarray) -> bytes:
    """PNG file of an RGB uint8 (H, W, 3) array."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format='PNG')
    return buf.getvalue()


def random_image(height: int, width: int, seed: int) -> np.ndarray:
    """uint8 (H, W, 3) RGB noise with a dark rectangle (a 'defect')."""
    rng = np.random.default_rng(seed)
    img = rng.integers(90, 200, (height, width, 3), dtype=np.uint8)
    img[height // 4:height // 2, width // 3:width // 2] //= 4
    return img


def write_tiny_yolo_world(tmp_dir: str, exemplar: bool = False) -> str:
    """A 128-px YOLO-World-S-mini at widen 0.125 with a 16-d precomputed text
    table holding :data:`PROMPTS` (and, with ``exemplar``, a small
    exemplar encoder); returns the config path."""
    rng = np.random.default_rng(0)
    table = {p: rng.standard_normal(16).round(4).tolist() for p in PROMPTS}
    emb_file = osp.join(tmp_dir, 'text_table.json')
    with open(emb_file, 'w', encoding='utf-8') as f:
        json.dump(table, f)
    base = osp.join(REPO_ROOT, 'configs', 'baselines',
                    'yolo_world_s_open_mini.py')
    name = 'tiny_yolo_world_exemplar.py' if exemplar else 'tiny_yolo_world.py'
    path = osp.join(tmp_dir, name)
    encoder = ("exemplar_encoder=dict(type='ExemplarPromptEncoder', "
               'feat_channels=16, num_groups=4),') if exemplar else ''
    with open(path, 'w', encoding='utf-8') as f:
        f.write(f'''_base_ = {base!r}
model = dict(
    {encoder}
    backbone=dict(
        image_model=dict(widen_factor=0.125),
        text_model=dict(_delete_=True, type='PrecomputedTextEncoder',
                        embeddings_file={emb_file!r})),
    neck=dict(widen_factor=0.125, guide_channels=16),
    bbox_head=dict(head_module=dict(widen_factor=0.125, embed_dims=16)))
test_dataloader = dict(dataset=dict(pipeline=[
    dict(step, scale=(128, 128)) if 'scale' in step else step
    for step in _base_.test_pipeline]))
''')
    return path


def save_random_checkpoint(config: str, path: str) -> str:
    """Build ``config``'s model with random weights and save its state.

    The head's last layers are spread (box offsets ~N(0, 0.3^2) weights,
    N(0, 1) biases; contrastive logit scale e^6, class bias -3): left as
    initialised, the random model predicts the whole image at every anchor
    with one score, and boxes could not be told apart on the page.
    """
    import torch
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from mmioc_rtvp.registry import MODELS
    cfg = Config.fromfile(config)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmioc_rtvp'):
        model = MODELS.build(cfg.model)
    model.init_weights()
    head = model.bbox_head.head_module
    with torch.no_grad():
        for reg in head.reg_preds:
            torch.nn.init.normal_(reg[-1].weight, std=0.3)
            torch.nn.init.normal_(reg[-1].bias, std=1.0)
        for contrast in head.cls_contrasts:
            contrast.bias.fill_(-3.0)
            contrast.logit_scale.fill_(6.0)
    torch.save(
        dict(state_dict=model.state_dict(),
             meta=dict(dataset_meta=dict(classes=list(PROMPTS)))), path)
    return path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def detections_key(detections: Sequence[dict]) -> List[tuple]:
    """Comparable (label, score, bbox) rows of a /api/predict answer."""
    return [(d['label'], d['score'], tuple(d['bbox'])) for d in detections]


@contextlib.contextmanager
def app_process(args: Sequence[str], log_path: str,
                start_timeout: float = 600) -> Iterator[dict]:
    """``python projects/web_demo/app.py ARGS --port <free>`` until it
    answers ``/api/info``; stopped (and waited for) on exit.

    ``start_timeout`` allows for a loaded machine (the start imports
    mmdet and builds the model: minutes at a load average of 10 on 2
    cores).

    Yields:
        dict: ``url``, ``port`` and ``pid``.
    """
    import httpx
    import pytest
    port = free_port()
    with open(log_path, 'w+') as log:
        proc = subprocess.Popen(
            [sys.executable, APP, *args, '--port', str(port)],
            cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
            env=dict(os.environ, OMP_NUM_THREADS='1'))
        try:
            url = f'http://127.0.0.1:{port}'
            deadline = time.monotonic() + start_timeout
            while True:
                try:
                    httpx.get(url + '/api/info', timeout=2)
                    break
                except httpx.TransportError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        pytest.fail('app.py did not start:\n'
                                    f'{log.read()[-3000:]}')
                    time.sleep(0.5)
            yield dict(url=url, port=port, pid=proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
