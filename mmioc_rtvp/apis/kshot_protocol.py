# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The k-shot protocol: name unseen classes from k support images each.

For each class of a test vocabulary, ``k`` support images holding it are
drawn (seeded) from the test annotation file; the queries are the other
images of that file. Every way of building the class embeddings (text,
exemplars, fused, prompt-tuned, ...) is then scored on the same queries
with the same vocabulary, so rows differ only in the embeddings.
"""
import copy
import json
import statistics
import os
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.runner import Runner
from torch import Tensor

from .vocabulary import Vocabulary


def draw_support(coco: dict, k: int, seed: int
                 ) -> Tuple[Dict[int, List[int]], List[int]]:
    """Draw k support images per category; the rest are the queries.

    Args:
        coco (dict): A COCO-style annotation dict.
        k (int): Support images per category.
        seed (int): Seed of the draw.

    Returns:
        tuple: ``({category_id: [image ids]}, query image ids)``; an image
        drawn for any category is not a query. Categories are drawn in
        id order, each from the images not drawn yet.

    Raises:
        ValueError: A category has fewer than k + 1 images (no query left).
    """
    if k < 1:
        raise ValueError(f'k must be >= 1, got {k}')
    rng = np.random.default_rng(seed)
    images_of: Dict[int, set] = {}
    for ann in coco['annotations']:
        if not ann.get('iscrowd', 0):
            images_of.setdefault(ann['category_id'], set()).add(
                ann['image_id'])
    taken: set = set()
    support: Dict[int, List[int]] = {}
    for cat in sorted(c['id'] for c in coco['categories']):
        pool = sorted(images_of.get(cat, set()) - taken)
        if len(pool) < k + 1:
            raise ValueError(
                f'category {cat} has {len(pool)} free images, k={k} support '
                'images and at least one query are needed')
        chosen = sorted(int(i) for i in rng.choice(pool, k, replace=False))
        support[cat] = chosen
        taken.update(chosen)
    queries = sorted(img['id'] for img in coco['images']
                     if img['id'] not in taken)
    return support, queries


def subset_coco(coco: dict, image_ids: Sequence[int]) -> dict:
    """The images ``image_ids`` of a COCO dict with their annotations."""
    keep = set(image_ids)
    out = {k: v for k, v in coco.items()
           if k not in ('images', 'annotations')}
    out['images'] = [i for i in coco['images'] if i['id'] in keep]
    out['annotations'] = [
        a for a in coco['annotations'] if a['image_id'] in keep
    ]
    return out


def write_json(obj: dict, path: str) -> str:
    """Write ``obj`` to ``path`` (folders made) and return the path."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(obj, f)
    return path


class KShotEvaluator:
    """Scores class embeddings on the queries of one support draw.

    Args:
        model (nn.Module): An open-vocabulary detector from
            :func:`build_detector` (eval mode).
        cfg (Config): Its config; ``test_dataloader`` and
            ``test_evaluator`` give the data root, pipeline, class texts
            and metric.
        work_dir (str): Where the support / query annotation files go.
        ann_file (str, optional): The annotation file to draw from;
            defaults to the config's test annotation file.
    """

    def __init__(self, model: torch.nn.Module, cfg: Config, work_dir: str,
                 ann_file: Optional[str] = None) -> None:
        self.model = model
        self.cfg = cfg
        self.work_dir = work_dir
        test_ds = cfg.test_dataloader.dataset
        inner = test_ds.get('dataset', test_ds)
        self.data_root = inner.get('data_root', '')
        prefix = inner.get('data_prefix', {}) or {}
        self.image_dir = osp.join(self.data_root, prefix.get('img', ''))
        self.ann_file = ann_file or osp.join(self.data_root,
                                             inner['ann_file'])
        with open(self.ann_file) as f:
            self.coco = json.load(f)
        self.vocabulary = Vocabulary.parse(test_ds['class_text_path'])
        cats = sorted(self.coco['categories'], key=lambda c: c['id'])
        if len(cats) != len(self.vocabulary):
            raise ValueError(
                f'{self.ann_file}: {len(cats)} categories but '
                f'{test_ds["class_text_path"]} has {len(self.vocabulary)} '
                'classes')
        self.cat_ids = [c['id'] for c in cats]

    # -- data -------------------------------------------------------------
    def _loader(self, ann_path: str):
        """A test data loader over the images of ``ann_path``."""
        loader = copy.deepcopy(self.cfg.test_dataloader)
        loader.num_workers = 0
        loader.persistent_workers = False
        ds = loader.dataset
        inner = ds.get('dataset', ds)
        inner['ann_file'] = osp.abspath(ann_path)
        inner['data_root'] = self.data_root
        inner.pop('filter_cfg', None)
        return Runner.build_dataloader(loader)

    def split(self, k: int, seed: int,
              exclude: Sequence[int] = ()) -> Tuple[str, str, dict]:
        """Write the support and query files of a draw.

        Args:
            k (int): Support images per class.
            seed (int): Seed of the draw.
            exclude (Sequence[int]): Images never used as queries (those
                a model trained on); the draw itself does not depend on it.

        Returns:
            tuple: ``(support json, query json, {category id: image ids})``.
        """
        support, queries = draw_support(self.coco, k, seed)
        skip = set(exclude)
        queries = [i for i in queries if i not in skip]
        if not queries:
            raise ValueError(f'{self.ann_file}: no query image left')
        tag = osp.join(self.work_dir, f'k{k}_draw{seed}')
        ids = sorted({i for v in support.values() for i in v})
        sup = write_json(subset_coco(self.coco, ids), tag + '_support.json')
        qry = write_json(subset_coco(self.coco, queries), tag + '_query.json')
        return sup, qry, support

    def support_batches(self, support_json: str):
        """Preprocessed support images with their boxes in input pixels.

        Yields:
            tuple: ``(inputs (B, 3, H, W), boxes [B x (n, 4)], labels
            [B x (n,)])``; labels index the vocabulary.
        """
        for data in self._loader(support_json):
            data = self.model.data_preprocessor(data, False)
            boxes, labels = [], []
            for sample in data['data_samples']:
                gt = sample.gt_instances
                boxes.append(gt.bboxes)
                labels.append(gt.labels)
            yield data['inputs'], boxes, labels

    @staticmethod
    def num_images(ann_path: str) -> int:
        """Number of images of an annotation file."""
        with open(ann_path) as f:
            return len(json.load(f)['images'])

    # -- embeddings -------------------------------------------------------
    def text_embeddings(self, ensemble: bool = False) -> Tensor:
        """(K, D) text embeddings of the vocabulary: each class's first
        prompt, as the test pipeline uses them (``LoadText``), or with
        ``ensemble`` the normalised mean over all its prompts."""
        vocab = self.vocabulary if ensemble else Vocabulary(
            tuple((name, ) for name in self.vocabulary.names))
        with torch.no_grad():
            return vocab.embed(self.model.backbone.forward_text)[0]

    def exemplar_embeddings(self, support_json: str,
                            encoder: Optional[torch.nn.Module] = None
                            ) -> Tensor:
        """(K, D): per class, the normalised mean of its support boxes'
        exemplar embeddings (``encoder`` replaces the model's own)."""
        model = self.model
        own = model.exemplar_encoder
        if encoder is not None:
            model.exemplar_encoder = encoder
        sums = None
        try:
            with torch.no_grad():
                for inputs, boxes, labels in self.support_batches(
                        support_json):
                    emb = model.encode_exemplars(inputs, boxes)
                    lab = torch.cat(labels)
                    if sums is None:
                        sums = emb.new_zeros(len(self.vocabulary),
                                             emb.shape[1])
                    sums.index_add_(0, lab, emb)
        finally:
            model.exemplar_encoder = own
        empty = (sums.norm(dim=1) == 0).nonzero().flatten().tolist()
        if empty:
            raise ValueError(f'{support_json}: no support box for classes '
                             f'{[self.vocabulary.names[i] for i in empty]}')
        return F.normalize(sums, dim=-1)

    # -- scoring ----------------------------------------------------------
    def predict(self, embeds: Tensor, ann_json: str) -> list:
        """Detections of the images of ``ann_json`` with class embeddings
        ``embeds`` (K, D); labels index the vocabulary.

        Returns:
            list[DetDataSample]: One per image, with ``img_path`` and
            ``pred_instances`` in original image pixels.
        """
        model = self.model
        saved = (model.text_feats, model.vocabulary)
        model.set_class_embeddings(embeds, self.vocabulary.names)
        out = []
        try:
            with torch.no_grad():
                for data in self._loader(ann_json):
                    out.extend(model.test_step(data))
        finally:
            model.text_feats, model.vocabulary = saved
        return out

    def score(self, embeds: Tensor, query_json: str) -> Dict[str, float]:
        """COCO AP of the model with class embeddings ``embeds`` (K, D) on
        the query images."""
        model = self.model
        saved = (model.text_feats, model.vocabulary)
        loader = self._loader(query_json)
        # the samples' texts are each class's first prompt (LoadText)
        model.set_class_embeddings(embeds, self.vocabulary.names)
        metric = copy.deepcopy(self.cfg.test_evaluator)
        metric['ann_file'] = osp.abspath(query_json)
        metric.pop('outfile_prefix', None)
        evaluator = Evaluator(metric)
        evaluator.dataset_meta = loader.dataset.metainfo
        try:
            with torch.no_grad():
                for data in loader:
                    outputs = model.test_step(data)
                    evaluator.process(data_samples=outputs, data_batch=data)
            return evaluator.evaluate(len(loader.dataset))
        finally:
            model.text_feats, model.vocabulary = saved


def reset_exemplar_encoder(model: torch.nn.Module,
                           seed: int) -> torch.nn.Module:
    """A copy of the model's exemplar encoder at a fresh initialisation
    (the untrained-pooling control)."""
    enc = copy.deepcopy(model.exemplar_encoder)
    torch.manual_seed(seed)
    for module in enc.modules():
        if module is not enc and hasattr(module, 'reset_parameters'):
            module.reset_parameters()
    return enc


def fuse(text: Tensor, exemplar: Tensor) -> Tensor:
    """Text + exemplar class embeddings: normalize(t/|t| + e/|e|)."""
    return F.normalize(
        F.normalize(text, dim=-1) + F.normalize(exemplar, dim=-1), dim=-1)


def _parse_options(cfg: Config, options: Sequence[str]) -> None:
    """Apply ``key=value`` overrides as ``--cfg-options`` does."""
    from mmengine.config import DictAction
    for option in options:
        key, value = option.split('=', 1)
        cfg.merge_from_dict({key: DictAction._parse_iterable(value)})


def _metric(metrics: Dict[str, float], key: str) -> Optional[float]:
    value = metrics.get(f'{key}_unrounded', metrics.get(key))
    return None if value is None else float(value)


def _train_image_ids(cfg: Config, data_root: str) -> set:
    """Image ids of a config's training annotation file (under
    ``data_root``); empty when it cannot be found."""
    ds = cfg.train_dataloader.dataset
    while 'ann_file' not in ds and 'dataset' in ds:
        ds = ds['dataset']
    path = osp.join(data_root, ds.get('ann_file', ''))
    if not osp.isfile(path):
        return set()
    with open(path) as f:
        return {img['id'] for img in json.load(f)['images']}


def excluded_queries(cfg: Config, data_root: str,
                     heldout_from: Sequence[str] = ()) -> set:
    """Image ids never used as queries: the training images of ``cfg``
    and of every config file in ``heldout_from`` (under ``data_root``)."""
    exclude = _train_image_ids(cfg, data_root)
    for other in heldout_from:
        exclude |= _train_image_ids(Config.fromfile(other), data_root)
    return exclude


def prompt_tuning_row(steps: int = 200, lr: float = 0.05) -> Callable:
    """The ``tuned`` row: every class embedding learned from the support
    images by :func:`tune_class_embeddings` (weights frozen), starting from
    the class texts."""
    from .prompt_tuning import tune_class_embeddings
    from .support_images import read_coco_support

    def tune(model, ev: 'KShotEvaluator', support_json: str,
             text: Tensor) -> Tensor:
        support = read_coco_support(support_json, ev.vocabulary.names,
                                    img_dir=ev.image_dir)
        result = tune_class_embeddings(
            model, support['images'], support['boxes'], support['labels'],
            base_embeds=text[:0], init_new=text, steps=steps, lr=lr)
        return result.embeds

    return tune


#: the rows of the protocol, in table order
ROWS = ('text', 'text_ensemble', 'exemplar_untrained', 'exemplar',
        'text+exemplar', 'tuned', 'tuned_from_ensemble')


def run_kshot(config: str,
              checkpoint: str,
              work_dir: str,
              data_root: str,
              shots: Sequence[int],
              draws: Sequence[int],
              options: Sequence[str] = (),
              seed: int = 0,
              ann_file: str = 'annotations/open_val.json',
              class_texts: str = 'texts/unseen_class_texts.json',
              tune: Optional[Callable] = None,
              heldout_from: Sequence[str] = ()) -> dict:
    """Score one checkpoint with every k-shot row; write ``kshot.json``.

    Rows: ``text`` (each class's first prompt, as the config's test uses
    it), ``text_ensemble`` (the mean over the class's prompts), and with an
    exemplar encoder
    ``exemplar`` (the class mean of its support boxes' embeddings),
    ``exemplar_untrained`` (the same with a freshly initialised encoder:
    the control), ``text+exemplar`` (:func:`fuse`); with ``tune`` (a
    callable ``(model, evaluator, support_json, init (K, D)) -> (K, D)``)
    ``tuned``. A config that trained on some of the images (a closed
    split) is scored on the queries it did not train on.

    Args:
        config (str): The run's config file.
        checkpoint (str): Its checkpoint.
        work_dir (str): Output folder (support / query files, kshot.json).
        data_root (str): MMIOC-format data folder.
        shots (Sequence[int]): The k values.
        draws (Sequence[int]): Seeds of the support draws.
        options (Sequence[str]): The run's ``--cfg-options``.
        seed (int): The run's training seed (recorded; also seeds the
            control's initialisation).
        ann_file (str): Annotation file below ``data_root``.
        class_texts (str): Class-text file below ``data_root``.
        tune (callable, optional): Prompt tuning (the ``tuned`` row).
        heldout_from (Sequence[str]): Configs whose training images are
            left out of the queries too, so that this run is scored on the
            same queries as theirs (e.g. the closed ceiling's). The support
            draws do not change.

    Returns:
        dict: What ``kshot.json`` holds.
    """
    from .model_loading import build_detector
    cfg = Config.fromfile(config)
    _parse_options(cfg, options)
    root = data_root.rstrip('/') + '/'
    test_ds = cfg.test_dataloader.dataset
    test_ds['class_text_path'] = root + class_texts
    inner = test_ds.get('dataset', test_ds)
    inner['data_root'] = root
    inner['ann_file'] = ann_file
    cfg.test_evaluator['ann_file'] = root + ann_file
    for key in ('seen_classes', 'classwise'):
        cfg.test_evaluator.pop(key, None)
    model, _ = build_detector(cfg, checkpoint)
    ev = KShotEvaluator(model, cfg, work_dir, root + ann_file)
    exclude = excluded_queries(cfg, root, heldout_from)
    has_encoder = getattr(model, 'exemplar_encoder', None) is not None
    wanted = ['text', 'text_ensemble']
    if has_encoder:
        wanted += ['exemplar_untrained', 'exemplar', 'text+exemplar']
    if tune is not None:
        wanted.append('tuned')
    out_file = osp.join(work_dir, 'kshot.json')
    results: Dict[str, dict] = {}
    if osp.isfile(out_file):  # finished draws of an earlier call are kept
        with open(out_file) as f:
            previous = json.load(f)
        if previous.get('checkpoint') == checkpoint:
            results = previous.get('results', {})
    out = dict(config=config, seed=seed, checkpoint=checkpoint,
               data_root=data_root, excluded_train_images=len(exclude),
               heldout_from=list(heldout_from),
               results=results)
    text = ev.text_embeddings()
    ensemble = ev.text_embeddings(ensemble=True)
    for k in shots:
        for draw in draws:
            key = f'k{k}_draw{draw}'
            done = results.get(key, {}).get('rows', {})
            if all(row in done for row in wanted):
                continue
            sup, qry, _ = ev.split(k, draw, exclude)
            rows: Dict[str, Tensor] = {'text': text,
                                       'text_ensemble': ensemble}
            if has_encoder:
                exemplar = ev.exemplar_embeddings(sup)
                rows['exemplar_untrained'] = ev.exemplar_embeddings(
                    sup, reset_exemplar_encoder(model, seed))
                rows['exemplar'] = exemplar
                rows['text+exemplar'] = fuse(text, exemplar)
            if tune is not None and 'tuned' not in done:
                rows['tuned'] = tune(model, ev, sup, text)
            scores = dict(done)
            for name, embeds in rows.items():
                if name in scores:
                    continue
                metrics = ev.score(embeds, qry)
                scores[name] = dict(
                    AP=_metric(metrics, 'coco/bbox_mAP'),
                    AP50=_metric(metrics, 'coco/bbox_mAP_50'))
            results[key] = dict(
                k=k, draw=draw, queries=ev.num_images(qry), rows=scores)
            write_json(out, out_file)  # after every draw: a stop loses one
    return out


def kshot_tables(runs: Sequence[dict], summarise: Callable,
                 table: Callable) -> str:
    """Markdown tables of ``kshot.json`` contents: per config, k and row,
    mean +- std of AP / AP50 over seeds x draws, and the paired
    difference and ratio to the same run's text-only row."""
    cells: Dict[Tuple[str, int, str], Dict[str, list]] = {}
    for run in runs:
        name = osp.splitext(osp.basename(run['config']))[0]
        held = [osp.splitext(osp.basename(c))[0]
                for c in run.get('heldout_from', ())]
        if held:
            name += f" (queries outside {', '.join(held)}'s training)"
        for res in run['results'].values():
            base = res['rows'].get('text', {})
            for row, sc in res['rows'].items():
                c = cells.setdefault((name, res['k'], row), dict(
                    AP=[], AP50=[], dAP=[], dAP50=[], ratio=[], queries=[],
                    n=[]))
                c['n'].append((run['seed'], res['draw']))
                c['queries'].append(res['queries'])
                for key in ('AP', 'AP50'):
                    if sc.get(key) is None:
                        continue
                    c[key].append(sc[key])
                    if row != 'text' and base.get(key) is not None:
                        c['d' + key].append(sc[key] - base[key])
                if row != 'text' and base.get('AP'):
                    c['ratio'].append(sc['AP'] / base['AP'])
    order = {r: i for i, r in enumerate(ROWS)}
    lines = []
    for (name, k, row) in sorted(cells, key=lambda t: (t[0], t[1],
                                                       order.get(t[2], 99))):
        c = cells[(name, k, row)]
        seeds = sorted({s for s, _ in c['n']})
        draws = sorted({d for _, d in c['n']})
        ratio = (f"{statistics.fmean(c['ratio']):.2f}x"
                 if c['ratio'] else '-')
        lines.append([
            name, str(k), row, ','.join(map(str, seeds)),
            ','.join(map(str, draws)), summarise(c['AP']),
            summarise(c['AP50']), summarise(c['dAP'], signed=True),
            summarise(c['dAP50'], signed=True), ratio,
            str(min(c['queries'])) if c['queries'] else '-'
        ])
    return table([
        'config', 'k', 'row', 'seeds', 'draws', 'AP', 'AP50',
        'Δ AP vs text', 'Δ AP50 vs text', 'AP / text AP', 'queries'
    ], lines)
