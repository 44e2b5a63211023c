# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Parameters and GFLOPs per module of a detector config (test-mode forward).

Builds the model of a config and counts, per top-level module (the expert
``backbone.image_model``, ``backbone.text_model``, ``visual_encoder``,
``domain_projection``, ``visual_prompts``, ``prompt_aux_head``,
``prompt_adapters``, ``neck``, ``visual_text``, ``bbox_head``; whichever
exist), its parameters (all and trainable) and the multiply-accumulates of
one test-mode forward of a batch of one image.

Convention (printed with the table): mmengine's ``FlopAnalyzer`` (fvcore's
rules, the counter behind mmdet's / mmyolo's ``get_flops``) counts one
multiply-accumulate (MAC) as one "flop" for convolutions and matrix products;
normalisation layers, bilinear/nearest up-sampling and adaptive pooling are
counted per element; elementwise activations and arithmetic, softmax and
pooling are not counted (they are listed as uncounted ops). The ``GMACs``
column is therefore what mmdet, mmyolo and most YOLO papers print as
"GFLOPs"; the ``GFLOPs`` column is 2 x MACs (the ultralytics convention).

What runs:

- the image path, up to the raw head outputs (``mode='tensor'``): box
  decoding and NMS are not counted;
- the text encoder, separately, on ``--texts`` K prompts (an online
  vocabulary: it runs on every call; a reparameterized model does not run it;
  the encoder's cache is not taken into account). With
  ``HFCLIPTextEncoder`` the prompts are tokenized as the encoder does
  (padded to the longest prompt, L tokens); other text encoders are not
  traced and their GFLOPs are shown as n/a;
- ``prompt_aux_head`` (the CIoU head of RTVPNet's RVP) only runs in
  training: its GFLOPs are shown apart and not added to the totals.

Weight files that do not exist locally are replaced by random stand-ins
(printed; the counts do not depend on the weights): a missing CLIP is
replaced by a random ``CLIPTextModelWithProjection`` with the architecture of
the named CLIP (ViT-B/32's text tower for ``openai/clip-vit-base-patch32``)
and a generated tokenizer that makes every word of the prompts one token (as
CLIP's BPE does for common English words), a missing Mobile-SAM file by
random weights (``checkpoint=None``) and a missing expert checkpoint by a
random initialisation (``init_cfg=None``).

Example::

    python tools/analysis_tools/get_flops.py configs/rtvpnet_s_open.py --paper
"""
import argparse
import os.path as osp
import sys
import tempfile
import warnings
from collections import Counter
from dataclasses import dataclass, field
from math import prod
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import get_shape
from mmengine.config import DictAction

from mmioc_rtvp.testing.stand_in_model import build_model, quiet_transformers

#: Rows of the table, in the order of the data flow; other top-level modules
#: follow in registration order.
ROW_ORDER = ('backbone.image_model', 'backbone.text_model', 'backbone',
             'visual_encoder', 'domain_projection', 'visual_prompts',
             'prompt_aux_head', 'prompt_adapters', 'neck', 'visual_text',
             'bbox_head')
#: Modules that only run in training (their GFLOPs are shown apart).
TRAIN_ONLY = ('prompt_aux_head', )

#: The paper's figures (Table III; its FLOP convention is not stated).
PAPER_FIGURES = {
    'RTVPNet-S': dict(params=76, gflops=17),
    'RTVPNet-L': dict(params=110, gflops=89),
    'YOLO-World-S': dict(params=77, gflops=None),
}


# ----------------------------------------------------------------------
# counting
# ----------------------------------------------------------------------
def sdpa_flop_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """MACs of ``aten::scaled_dot_product_attention``: Q K^T and A V.

    With q (..., L, E), k (..., S, E), v (..., S, Ev): ``N * L * S * (E +
    Ev)`` where N is the product of the leading dimensions (softmax and
    scaling are elementwise and not counted).
    """
    q, k, v = (get_shape(x) for x in inputs[:3])
    lead = prod(q[:-2])
    return lead * q[-2] * k[-2] * (q[-1] + v[-1])


def make_analyzer(module: nn.Module, inputs: tuple) -> FlopAnalyzer:
    """A quiet ``FlopAnalyzer`` with the attention handle added."""
    analyzer = FlopAnalyzer(module, inputs)
    analyzer.set_op_handle(
        **{'aten::scaled_dot_product_attention': sdpa_flop_jit})
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    analyzer.tracer_warnings('none')
    return analyzer


class TensorForward(nn.Module):
    """A detector's test-mode network as a function of tensors.

    ``forward(images)`` for a closed-set detector, ``forward(images,
    txt_feats)`` for an open-vocabulary one (the text encoder does not run:
    the (B, K, D) embeddings are an input). Returns the raw head outputs
    (``mode='tensor'``).

    Args:
        detector (nn.Module): The detector (kept as ``self.model``).
    """

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.model = detector

    def forward(self, images: torch.Tensor,
                txt_feats: Optional[torch.Tensor] = None) -> tuple:
        """Raw head outputs of (B, 3, H, W) images (and (B, K, D) texts)."""
        if txt_feats is None:
            return self.model._forward(images)
        img_feats, txt_feats = self.model.extract_feat(images, txt_feats)
        return self.model.bbox_head(img_feats, txt_feats)


class CLIPTextForward(nn.Module):
    """``HFCLIPTextEncoder``'s network on token ids (no tokenizer, no
    cache, no normalisation): (N, L) ids -> (N, D) ``text_embeds``."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.model = encoder.model

    def forward(self, input_ids: torch.Tensor,
                attention_mask: torch.Tensor) -> torch.Tensor:
        """(N, D) projected embeddings of (N, L) token ids; a plain
        transformer without a projection (MiniLM) returns its (N, L, D)
        token states (its mean pooling is not counted)."""
        out = self.model(input_ids=input_ids, attention_mask=attention_mask)
        embeds = getattr(out, 'text_embeds', None)
        return out.last_hidden_state if embeds is None else embeds


@dataclass
class Row:
    """One module of the table."""
    name: str
    params: int
    trainable: int
    macs: Optional[int]  # test-mode MACs; None: not counted (n/a)
    note: str = ''
    train_macs: Optional[int] = None  # train-only modules
    uncounted: Counter = field(default_factory=Counter)


@dataclass
class Report:
    """Everything :func:`format_report` prints."""
    config: str
    shape: Tuple[int, int]
    rows: List[Row]
    image_macs: int  # the whole image path (= sum of rows + other)
    text_macs: Optional[int]  # the text encoder, None if not counted
    params: int
    trainable: int
    text_params: int
    text_trainable: int = 0
    prompts: Optional[List[str]] = None
    text_tokens: Optional[int] = None
    notes: List[str] = field(default_factory=list)
    uncalled: Dict[str, int] = field(default_factory=dict)

    @property
    def other_macs(self) -> int:
        """MACs of the image path outside every row's module."""
        return self.image_macs - sum(
            r.macs for r in self.rows
            if r.macs is not None and r.name != 'backbone.text_model')


def _count_params(module: nn.Module) -> Tuple[int, int]:
    """(all, trainable) parameter elements, each shared tensor once."""
    params = list(module.parameters())
    return (sum(p.numel() for p in params),
            sum(p.numel() for p in params if p.requires_grad))


def row_names(model: nn.Module) -> List[str]:
    """The table's rows: top-level modules with parameters, the backbone of
    an open-vocabulary detector split into image and text models."""
    names = []
    for name, child in model.named_children():
        if child is None or name == 'data_preprocessor':
            continue
        if name == 'backbone' and hasattr(child, 'image_model'):
            names.append('backbone.image_model')
            if getattr(child, 'text_model', None) is not None:
                names.append('backbone.text_model')
            continue
        names.append(name)
    order = {n: i for i, n in enumerate(ROW_ORDER)}
    return sorted(names, key=lambda n: (order.get(n, len(order)),
                                        names.index(n)))


def _text_feats(model: nn.Module, prompts: List[str]) -> torch.Tensor:
    """(1, K, D) embeddings: the stored vocabulary, else the text model's."""
    if getattr(model, 'text_feats', None) is not None:
        return model.text_feats
    if getattr(model.backbone, 'text_model', None) is None:
        raise ValueError('get_flops: the detector has neither a text model '
                         'nor a reparameterized vocabulary')
    with torch.no_grad():
        return model.backbone.forward_text([prompts])


def count_model(model: nn.Module,
                shape: Tuple[int, int],
                prompts: Optional[List[str]] = None,
                config: str = '',
                notes: Optional[List[str]] = None) -> Report:
    """Count parameters and test-mode MACs per top-level module.

    Args:
        model (nn.Module): A detector in eval mode.
        shape (tuple[int, int]): (H, W) of the input.
        prompts (list[str], optional): K prompts of an open-vocabulary
            detector; None for a closed-set one.
        config (str): Name printed in the report.
        notes (list[str], optional): Stand-in notes to print.

    Returns:
        Report: The counts.
    """
    model.eval()
    images = torch.rand(1, 3, *shape)
    txt_feats = None if prompts is None else _text_feats(model, prompts)
    inputs = (images, ) if txt_feats is None else (images, txt_feats)
    wrapper = TensorForward(model)
    with torch.no_grad():
        analyzer = make_analyzer(wrapper, inputs)
        by_module = analyzer.by_module()
        image_macs = analyzer.total()

    text_model = getattr(getattr(model, 'backbone', None), 'text_model', None)
    text_macs, text_tokens, text_note = None, None, ''
    text_uncounted: Counter = Counter()
    if text_model is not None and prompts is not None:
        if hasattr(text_model, 'tokenizer') and hasattr(text_model, 'model'):
            tokens = text_model.tokenizer(
                list(prompts),
                padding=True,
                truncation=True,
                max_length=text_model.max_length,
                return_tensors='pt')
            text_tokens = int(tokens['input_ids'].shape[1])
            with torch.no_grad():
                text_analyzer = make_analyzer(
                    CLIPTextForward(text_model),
                    (tokens['input_ids'], tokens['attention_mask']))
                text_macs = text_analyzer.total()
                text_uncounted = text_analyzer.unsupported_ops()
            text_note = (f'online only: K={len(prompts)} prompts x '
                         f'L={text_tokens} tokens')
        else:
            text_note = (f'{type(text_model).__name__} is not traced: '
                         'GFLOPs not counted')

    train_macs: Dict[str, int] = {}
    aux = getattr(model, 'prompt_aux_head', None)
    if aux is not None and txt_feats is not None:
        with torch.no_grad():
            feats = model.forward_features(images, txt_feats)
            train_macs['prompt_aux_head'] = make_analyzer(
                aux, (tuple(feats.prompts), )).total()

    rows = []
    for name in row_names(model):
        module = model.get_submodule(name)
        params, trainable = _count_params(module)
        scope = f'model.{name}'
        if name == 'backbone.text_model':
            rows.append(
                Row(name, params, trainable, text_macs, text_note,
                    uncounted=text_uncounted))
        elif name in TRAIN_ONLY:
            rows.append(
                Row(name, params, trainable, by_module.get(scope, 0),
                    'training only, not run at test',
                    train_macs=train_macs.get(name)))
        else:
            rows.append(
                Row(name, params, trainable, by_module.get(scope, 0),
                    uncounted=analyzer.unsupported_ops(scope)))

    uncalled = {}
    outermost: List[str] = []
    for name in sorted(analyzer.uncalled_modules()):
        if any(name.startswith(o + '.') for o in outermost):
            continue
        outermost.append(name)
        params = _count_params(wrapper.get_submodule(name))[0]
        if params and not name.startswith('model.backbone.text_model'):
            uncalled[name[len('model.'):]] = params

    params, trainable = _count_params(model)
    return Report(
        config=config,
        shape=tuple(shape),
        rows=rows,
        image_macs=image_macs,
        text_macs=text_macs,
        params=params,
        trainable=trainable,
        text_params=_count_params(text_model)[0] if text_model else 0,
        text_trainable=_count_params(text_model)[1] if text_model else 0,
        prompts=prompts,
        text_tokens=text_tokens,
        notes=list(notes or []),
        uncalled=uncalled)


# ----------------------------------------------------------------------
# printing
# ----------------------------------------------------------------------
def _m(n: Optional[int]) -> str:
    return 'n/a' if n is None else f'{n / 1e6:.3f}'


def _g(n: Optional[int], factor: int = 1) -> str:
    return 'n/a' if n is None else f'{n * factor / 1e9:.3f}'


def paper_name(config: str) -> Optional[str]:
    """The paper's model a config file corresponds to, if any."""
    base = osp.basename(config)
    for prefix, name in (('rtvpnet_s', 'RTVPNet-S'), ('rtvpnet_l',
                                                      'RTVPNet-L'),
                         ('yolo_world_s', 'YOLO-World-S')):
        if base.startswith(prefix):
            return name
    return None


def format_report(report: Report, paper: bool = False) -> str:
    """The report as text (tables in Markdown)."""
    h, w = report.shape
    lines = [f'config: {report.config}',
             f'input: 1x3x{h}x{w}, test mode (eval), batch 1']
    if report.prompts is not None:
        lines.append(f'prompts: K={len(report.prompts)} (e.g. '
                     f'{report.prompts[0]!r})' +
                     (f', L={report.text_tokens} tokens after tokenization'
                      if report.text_tokens else ''))
    if report.notes:
        lines.append('stand-ins for missing weight files (random weights; '
                     'counts do not depend on weights):')
        lines += [f'  - {n}' for n in report.notes]
    lines += [
        '',
        '| module | params (M) | trainable (M) | GMACs | GFLOPs (2xMACs) '
        '| note |', '|---|---:|---:|---:|---:|---|'
    ]
    for r in report.rows:
        macs, note = r.macs, r.note
        if r.train_macs is not None:
            note = (f'{note}; train-time cost {_g(r.train_macs)} GMACs, '
                    'not in the totals')
        lines.append(f'| {r.name} | {_m(r.params)} | {_m(r.trainable)} | '
                     f'{_g(macs)} | {_g(macs, 2)} | {note} |')
    if report.other_macs:
        lines.append(f'| (ops outside these modules) | | | '
                     f'{_g(report.other_macs)} | '
                     f'{_g(report.other_macs, 2)} | |')
    with_text = None if report.text_macs is None and report.text_params \
        else report.image_macs + (report.text_macs or 0)
    reparam_params = report.params - report.text_params
    if report.text_params or report.prompts is not None:
        lines.append(f'| **total, online text (text encoder runs)** | '
                     f'{_m(report.params)} | {_m(report.trainable)} | '
                     f'{_g(with_text)} | {_g(with_text, 2)} | |')
        lines.append(f'| **total without the text encoder '
                     f'(reparameterized)** | {_m(reparam_params)} | '
                     f'{_m(report.trainable - report.text_trainable)} | '
                     f'{_g(report.image_macs)} | '
                     f'{_g(report.image_macs, 2)} | |')
    else:
        lines.append(f'| **total** | {_m(report.params)} | '
                     f'{_m(report.trainable)} | {_g(report.image_macs)} | '
                     f'{_g(report.image_macs, 2)} | |')
    lines += [
        '',
        'Convention: MACs counted by mmengine.analysis.FlopAnalyzer (fvcore '
        'rules; the counter of mmdet/mmyolo get_flops), one multiply-'
        'accumulate = 1; BN/LN/GN, up-sampling and adaptive pooling count '
        'per element. The GMACs column is what mmdet, mmyolo, fvcore and '
        'detectron2 print as "GFLOPs"; the GFLOPs column is 2 x MACs, the '
        'convention of the ultralytics YOLO tables.',
        'Counted: the network up to the raw head outputs (mode=\'tensor\'); '
        'box decoding and NMS are not. Params: every parameter (buffers '
        'such as BN statistics are not parameters).',
    ]
    for label, rows in (
            ('the image path', [r for r in report.rows
                                if r.name != 'backbone.text_model']),
            ('the text encoder', [r for r in report.rows
                                  if r.name == 'backbone.text_model'])):
        uncounted = sum((r.uncounted for r in rows), Counter())
        if uncounted:
            lines.append(f'Uncounted ops of {label} (no counting rule: '
                         '0 MACs in this convention): ' + ', '.join(
                             f'{op} x{n}'
                             for op, n in sorted(uncounted.items())))
    if report.uncalled:
        lines.append('Modules with parameters that the test-mode forward '
                     'never calls (counted in params): ' + ', '.join(
                         f'{n} ({_m(p)} M)'
                         for n, p in report.uncalled.items()))
    name = paper_name(report.config)
    if paper and name:
        fig = PAPER_FIGURES[name]
        gflops = ('not given' if fig['gflops'] is None else
                  f'{fig["gflops"]} G')
        lines += [
            '',
            f'Paper ({name}, Table III; FLOP convention not stated): '
            f'{fig["params"]} M params, GFLOPs {gflops}.',
            f'Ours: {_m(report.params)} M params (with the text encoder), '
            f'{_m(reparam_params)} M without it; '
            f'{_g(report.image_macs)} GMACs without the text encoder, '
            f'{_g(with_text)} GMACs with it (K={len(report.prompts or [])}).'
        ]
    elif paper:
        lines.append(f'\n(no paper figures for {osp.basename(report.config)};'
                     f' known: {", ".join(PAPER_FIGURES)})')
    return '\n'.join(lines)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(
        description='Parameters and GFLOPs per module of a detector config')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--shape',
        type=int,
        nargs='+',
        default=[640],
        help='input size: S (square) or H W (default 640)')
    parser.add_argument(
        '--texts',
        type=int,
        default=None,
        help='K, the number of prompts of an open-vocabulary model '
        '(default: the config\'s num_test_classes, else 64)')
    parser.add_argument(
        '--paper',
        action='store_true',
        help='print the paper\'s figures next to ours')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit code."""
    args = parse_args(argv)
    if len(args.shape) not in (1, 2) or min(args.shape) < 1:
        print('get_flops: --shape takes S or H W (positive integers)',
              file=sys.stderr)
        return 2
    shape = (tuple(args.shape) * 2)[:2]
    quiet_transformers()
    if not osp.isfile(args.config):
        print(f'get_flops: config {args.config} does not exist',
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix='get_flops_') as work_dir, \
            warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model, _, notes, prompts = build_model(args.config, work_dir,
                                               args.texts, args.cfg_options)
        report = count_model(model, shape, prompts, args.config, notes)
    print(format_report(report, paper=args.paper))
    return 0


if __name__ == '__main__':
    sys.exit(main())
