# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Tests of the Mobile-SAM TinyViT-5M image encoder and its loader.

No real Mobile-SAM weights exist offline: checkpoints are written in the
official layout (the key/shape list ``OFFICIAL_KEYS_TSV`` at the end of this
file, a copy of ``reference/mobile_sam_image_encoder_keys.tsv``) with random
values.
"""
import functools
import itertools
import math
import re
import time
from typing import Dict, List, Tuple

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import DefaultScope
from torch import Tensor

from mmioc_rtvp.models.backbones import MobileSAMTinyViT
from mmioc_rtvp.models.backbones.mobile_sam_tinyvit import conv_chain_size
from mmioc_rtvp.models.layers import TinyViTAttnStage, TinyViTBlock
from mmioc_rtvp.models.layers.tinyvit_blocks import relative_offset_index
from mmioc_rtvp.models.utils import load_mobile_sam_encoder
from mmioc_rtvp.registry import MODELS

PREFIX = 'image_encoder.'


# ----------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------
def _official_keys() -> List[Tuple[str, Tuple[int, ...], str]]:
    """(key, shape, dtype) rows of the official key list, in file order."""
    rows = []
    for line in OFFICIAL_KEYS_TSV.strip().splitlines():
        if line.startswith('#'):
            continue
        key, shape, dtype = line.split('\t')
        rows.append(
            (key, tuple(int(n) for n in re.findall(r'\d+', shape)), dtype))
    return rows


def _random_official_state(seed: int = 0) -> Dict[str, Tensor]:
    """``image_encoder.*`` tensors with the official names and shapes and
    random, well-scaled values (BN statistics and biases included)."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape, dtype in _official_keys():
        name = key.rsplit('.', 1)[-1]
        if dtype == 'torch.int64':
            value = torch.tensor(7, dtype=torch.int64)
        elif name == 'running_var':
            value = torch.rand(shape, generator=gen) * 0.5 + 0.75
        elif name == 'running_mean':
            value = torch.randn(shape, generator=gen) * 0.1
        elif name == 'attention_biases':
            value = torch.randn(shape, generator=gen)
        elif len(shape) == 1 and name == 'weight':  # BN / LayerNorm scales
            value = 1 + 0.1 * torch.randn(shape, generator=gen)
        elif name == 'bias':
            value = 0.05 * torch.randn(shape, generator=gen)
        else:  # conv / linear weights, ~unit output variance
            fan_in = math.prod(shape[1:])
            value = torch.randn(shape, generator=gen) / math.sqrt(fan_in)
        state[key] = value
    return state


def _fake_sam_decoder_keys() -> Dict[str, Tensor]:
    """A few tensors of the other parts of a full Sam state dict."""
    return {
        'prompt_encoder.pe_layer.positional_encoding_gaussian_matrix':
        torch.randn(2, 128),
        'mask_decoder.iou_token.weight':
        torch.randn(1, 256),
        'mask_decoder.mask_tokens.weight':
        torch.randn(4, 256),
    }


def _strip(state: Dict[str, Tensor]) -> Dict[str, Tensor]:
    return {k[len(PREFIX):]: v for k, v in state.items()}


def _build(**kwargs) -> MobileSAMTinyViT:
    with DefaultScope.overwrite_default_scope('mmioc_rtvp'):
        return MODELS.build(dict(type='MobileSAMTinyViT', **kwargs))


@pytest.fixture(scope='module')
def official_state() -> Dict[str, Tensor]:
    return _random_official_state(seed=0)


@pytest.fixture(scope='module')
def official_file(tmp_path_factory, official_state) -> str:
    """A full-SAM checkpoint in the official layout."""
    path = tmp_path_factory.mktemp('sam') / 'mobile_sam.pt'
    torch.save({**official_state, **_fake_sam_decoder_keys()}, path)
    return str(path)


@pytest.fixture(scope='module')
def plain_model() -> MobileSAMTinyViT:
    """A random encoder to load files into (a failed load changes
    nothing)."""
    return MobileSAMTinyViT()


@pytest.fixture(scope='module')
def loaded_model(official_file) -> MobileSAMTinyViT:
    return _build(checkpoint=official_file)


# ----------------------------------------------------------------------
# a straightforward reference of the official forward
# ----------------------------------------------------------------------
@functools.lru_cache()
def _offset_table(window: int) -> Tensor:
    """The official numbering: offsets (|dy|, |dx|) in order of first
    appearance over all (query, key) pairs of the window."""
    points = list(itertools.product(range(window), range(window)))
    seen: Dict[Tuple[int, int], int] = {}
    idxs = []
    for p1 in points:
        for p2 in points:
            offset = (abs(p1[0] - p2[0]), abs(p1[1] - p2[1]))
            seen.setdefault(offset, len(seen))
            idxs.append(seen[offset])
    return torch.tensor(idxs).view(len(points), len(points))


def _conv_bn(x: Tensor,
             sd: Dict[str, Tensor],
             name: str,
             stride: int = 1,
             padding: int = 0,
             groups: int = 1) -> Tensor:
    x = F.conv2d(x, sd[f'{name}.c.weight'], None, stride, padding, 1, groups)
    return F.batch_norm(x, sd[f'{name}.bn.running_mean'],
                        sd[f'{name}.bn.running_var'], sd[f'{name}.bn.weight'],
                        sd[f'{name}.bn.bias'], False, 0.0, 1e-5)


def _layer_norm(x: Tensor, sd: Dict[str, Tensor], name: str) -> Tensor:
    return F.layer_norm(x, x.shape[-1:], sd[f'{name}.weight'],
                        sd[f'{name}.bias'], 1e-5)


def _ref_merge(x: Tensor, sd: Dict[str, Tensor], name: str) -> Tensor:
    """Patch merging on (B, C, H, W), returning tokens (B, L, C')."""
    out_dim = sd[f'{name}.conv1.c.weight'].shape[0]
    stride = 1 if out_dim in (320, 448, 576) else 2  # the official rule
    x = F.gelu(_conv_bn(x, sd, f'{name}.conv1'))
    x = F.gelu(_conv_bn(x, sd, f'{name}.conv2', stride, 1, out_dim))
    x = _conv_bn(x, sd, f'{name}.conv3')
    return x.flatten(2).transpose(1, 2)


def _ref_attention(x: Tensor, sd: Dict[str, Tensor], name: str, heads: int,
                   window: int) -> Tensor:
    """(B', N, C) -> (B', N, C), the official head-interleaved qkv."""
    num, tokens, dim = x.shape
    key_dim = dim // heads
    x = _layer_norm(x, sd, f'{name}.norm')
    qkv = F.linear(x, sd[f'{name}.qkv.weight'], sd[f'{name}.qkv.bias'])
    q, k, v = qkv.view(num, tokens, heads, 3 * key_dim).split(
        [key_dim] * 3, dim=3)
    q, k, v = (t.permute(0, 2, 1, 3) for t in (q, k, v))
    bias = sd[f'{name}.attention_biases'][:, _offset_table(window)]
    attn = (q @ k.transpose(-2, -1)) / math.sqrt(key_dim) + bias
    out = (attn.softmax(-1) @ v).transpose(1, 2).reshape(num, tokens, dim)
    return F.linear(out, sd[f'{name}.proj.weight'], sd[f'{name}.proj.bias'])


def _ref_block(x: Tensor, sd: Dict[str, Tensor], name: str,
               hw: Tuple[int, int], heads: int, window: int) -> Tensor:
    """Official TinyViT block on tokens (B, L, C) of a fixed grid."""
    height, width = hw
    batch, length, dim = x.shape
    assert length == height * width
    shortcut = x
    grid = x.view(batch, height, width, dim)
    pad_b, pad_r = (-height) % window, (-width) % window
    grid = F.pad(grid, (0, 0, 0, pad_r, 0, pad_b))
    hp, wp = height + pad_b, width + pad_r
    nh, nw = hp // window, wp // window
    win = grid.view(batch, nh, window, nw, window, dim).transpose(2, 3)
    win = win.reshape(batch * nh * nw, window * window, dim)
    win = _ref_attention(win, sd, f'{name}.attn', heads, window)
    grid = win.view(batch, nh, nw, window, window, dim).transpose(2, 3)
    grid = grid.reshape(batch, hp, wp, dim)[:, :height, :width]
    x = shortcut + grid.reshape(batch, length, dim)
    x = x.transpose(1, 2).reshape(batch, dim, height, width)
    x = _conv_bn(x, sd, f'{name}.local_conv', 1, 1, dim)
    x = x.view(batch, dim, length).transpose(1, 2)
    mlp = _layer_norm(x, sd, f'{name}.mlp.norm')
    mlp = F.linear(mlp, sd[f'{name}.mlp.fc1.weight'],
                   sd[f'{name}.mlp.fc1.bias'])
    mlp = F.linear(
        F.gelu(mlp), sd[f'{name}.mlp.fc2.weight'], sd[f'{name}.mlp.fc2.bias'])
    return x + mlp


def _ref_layer_norm_2d(x: Tensor, sd: Dict[str, Tensor], name: str) -> Tensor:
    mean = x.mean(1, keepdim=True)
    var = (x - mean).pow(2).mean(1, keepdim=True)
    x = (x - mean) / torch.sqrt(var + 1e-6)
    return (sd[f'{name}.weight'][:, None, None] * x +
            sd[f'{name}.bias'][:, None, None])


def _official_forward(sd: Dict[str, Tensor], img: Tensor,
                      img_size: int) -> Tensor:
    """Mobile-SAM's ``TinyViT(img_size).forward`` with its FIXED token
    grids: the stage resolutions its constructor derives from ``img_size``
    and the final reshape to ``img_size // 16`` (the hard-coded 64x64 of
    the official code at img_size=1024)."""
    depths, heads, windows = (2, 2, 6, 2), (2, 4, 5, 10), (7, 7, 14, 7)
    x = F.gelu(_conv_bn(img, sd, 'patch_embed.seq.0', 2, 1))
    x = _conv_bn(x, sd, 'patch_embed.seq.2', 2, 1)
    patches = img_size // 4
    res = [patches // 2**(i - 1 if i == 3 else i) for i in range(4)]
    for j in range(depths[0]):
        name = f'layers.0.blocks.{j}'
        y = F.gelu(_conv_bn(x, sd, f'{name}.conv1'))
        y = F.gelu(_conv_bn(y, sd, f'{name}.conv2', 1, 1, y.shape[1]))
        x = F.gelu(x + _conv_bn(y, sd, f'{name}.conv3'))
    x = _ref_merge(x, sd, 'layers.0.downsample')
    for i in range(1, 4):
        for j in range(depths[i]):
            x = _ref_block(x, sd, f'layers.{i}.blocks.{j}', (res[i], res[i]),
                           heads[i], windows[i])
        if i < 3:
            grid = x.view(x.shape[0], res[i], res[i], -1).permute(0, 3, 1, 2)
            x = _ref_merge(grid, sd, f'layers.{i}.downsample')
    side = img_size // 16
    x = x.view(x.shape[0], side, side, -1).permute(0, 3, 1, 2)
    x = F.conv2d(x, sd['neck.0.weight'])
    x = _ref_layer_norm_2d(x, sd, 'neck.1')
    x = F.conv2d(x, sd['neck.2.weight'], padding=1)
    return _ref_layer_norm_2d(x, sd, 'neck.3')


# ----------------------------------------------------------------------
# architecture
# ----------------------------------------------------------------------
def test_state_dict_is_the_official_key_list():
    rows = _official_keys()
    assert len(rows) == 302
    total = sum(math.prod(shape) for _, shape, _ in rows)
    assert total == 6_075_415  # "6.08 M elements" of the TSV header
    sd = MobileSAMTinyViT(frozen=False).state_dict()
    # same keys in the same order, same shapes and dtypes
    assert [(PREFIX + k, tuple(v.shape), str(v.dtype))
            for k, v in sd.items()] == rows


def test_parameters_and_buffers():
    model = MobileSAMTinyViT(frozen=False)
    sd = model.state_dict()
    params = dict(model.named_parameters())
    saved_buffers = [k for k in sd if k not in params]
    # 27 BatchNorms: 2 in the stem, 3 in each of the 2 MBConvs, one
    # local conv in each of the 2 + 6 + 2 TinyViT blocks, 3 in each of the
    # 3 patch mergings
    assert len(saved_buffers) == 27 * 3
    assert {k.rsplit('.', 1)[1]
            for k in saved_buffers
            } == {'running_mean', 'running_var', 'num_batches_tracked'}
    assert sum(p.numel() for p in params.values()) == 6_075_415 - 9_883
    # the relative-position index tables are buffers, but not saved
    idx_buffers = [
        k for k, _ in model.named_buffers() if k.endswith('bias_idxs')
    ]
    assert len(idx_buffers) == 2 + 6 + 2
    assert not set(idx_buffers) & set(sd)
    assert 'layers.2.blocks.0.attn.attention_biases' in params
    # the unused classification head never trains
    for name in ('norm_head.weight', 'norm_head.bias', 'head.weight',
                 'head.bias'):
        assert not params[name].requires_grad


def test_relative_offset_index():
    # hand-computed for a 2x2 window: tokens (0,0) (0,1) (1,0) (1,1)
    expected = torch.tensor([[0, 1, 2, 3], [1, 0, 3, 2], [2, 3, 0, 1],
                             [3, 2, 1, 0]])
    assert torch.equal(relative_offset_index(2), expected)
    for window in (7, 14):
        assert torch.equal(
            relative_offset_index(window), _offset_table(window))


def _randomize_block(block: TinyViTBlock, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in block.named_parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
        for name, buf in block.named_buffers():
            if name.endswith('running_var'):
                buf.copy_(torch.rand(buf.shape, generator=gen) + 0.5)
            elif name.endswith('running_mean'):
                buf.copy_(torch.randn(buf.shape, generator=gen) * 0.1)
    block.eval()


def _loop_block(block: TinyViTBlock, x: Tensor) -> Tensor:
    """Token-by-token loops: windows of the zero-padded grid, padded tokens
    attended to (their features are 0 before the norm), then cropped."""
    batch, height, width, dim = x.shape
    attn = block.attn
    window, heads = block.window_size, attn.num_heads
    key_dim = dim // heads
    table = _offset_table(window)
    sd = block.state_dict()
    out = torch.zeros_like(x)
    for b in range(batch):
        for top in range(0, height, window):
            for left in range(0, width, window):
                coords = [(top + i, left + j) for i in range(window)
                          for j in range(window)]
                tokens = torch.stack([
                    x[b, r,
                      c] if r < height and c < width else x.new_zeros(dim)
                    for r, c in coords
                ])
                normed = F.layer_norm(tokens, (dim, ), sd['attn.norm.weight'],
                                      sd['attn.norm.bias'])
                qkv = normed @ sd['attn.qkv.weight'].T + sd['attn.qkv.bias']
                head_outs = []
                for h in range(heads):
                    base = h * 3 * key_dim
                    q = qkv[:, base:base + key_dim]
                    k = qkv[:, base + key_dim:base + 2 * key_dim]
                    v = qkv[:, base + 2 * key_dim:base + 3 * key_dim]
                    logits = torch.empty(len(coords), len(coords))
                    for n in range(len(coords)):
                        for m in range(len(coords)):
                            logits[
                                n,
                                m] = (q[n] @ k[m]) / math.sqrt(key_dim) + sd[
                                    'attn.attention_biases'][h, table[n, m]]
                    head_outs.append(logits.softmax(-1) @ v)
                res = (
                    torch.cat(head_outs, 1) @ sd['attn.proj.weight'].T +
                    sd['attn.proj.bias'])
                for n, (r, c) in enumerate(coords):
                    if r < height and c < width:
                        out[b, r, c] = res[n]
    x = x + out
    # local conv: depthwise conv + BN in eval mode, written out
    conv = F.conv2d(
        x.permute(0, 3, 1, 2),
        sd['local_conv.c.weight'],
        padding=block.local_conv.c.padding,
        groups=dim)
    scale = sd['local_conv.bn.weight'] / torch.sqrt(
        sd['local_conv.bn.running_var'] + 1e-5)
    conv = (conv - sd['local_conv.bn.running_mean'][:, None, None]
            ) * scale[:, None, None] + sd['local_conv.bn.bias'][:, None, None]
    x = conv.permute(0, 2, 3, 1)
    hidden = F.layer_norm(x, (dim, ), sd['mlp.norm.weight'],
                          sd['mlp.norm.bias'])
    hidden = F.gelu(hidden @ sd['mlp.fc1.weight'].T + sd['mlp.fc1.bias'])
    return x + hidden @ sd['mlp.fc2.weight'].T + sd['mlp.fc2.bias']


@pytest.mark.parametrize('hw,window', [((5, 4), 3), ((3, 3), 3), ((4, 7), 2)])
def test_window_attention_with_padding_matches_loops(hw, window):
    torch.manual_seed(0)
    block = TinyViTBlock(dim=8, num_heads=2, window_size=window)
    _randomize_block(block, seed=1)
    x = torch.randn(2, *hw, 8)
    with torch.no_grad():
        torch.testing.assert_close(
            block(x), _loop_block(block, x), rtol=1e-5, atol=1e-5)


def test_attention_stage_is_its_blocks_then_merging():
    """A stage takes (B, C, H, W), runs its blocks channels-last (here on a
    grid divisible by the window) and down-samples."""
    stage = TinyViTAttnStage(8, 2, num_heads=2, window_size=3, out_dim=12)
    for i, block in enumerate(stage.blocks):
        _randomize_block(block, seed=10 + i)
    stage.eval()
    x = torch.randn(1, 8, 6, 6)
    expected = x.permute(0, 2, 3, 1)
    for block in stage.blocks:
        expected = _loop_block(block, expected)
    with torch.no_grad():
        expected = stage.downsample(expected.permute(0, 3, 1, 2))
        out = stage(x)
    assert out.shape == (1, 12, 3, 3)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------
# forward
# ----------------------------------------------------------------------
@pytest.mark.parametrize('batch,size', [(1, 1024), (2, 320)])
def test_forward_equals_the_fixed_grid_official_path(loaded_model,
                                                     official_state, batch,
                                                     size):
    """At 1024 px the derived grids give what the official forward with
    its hard-coded 64x64 grid computes (and likewise at 320 px with
    grids fixed for img_size=320)."""
    sd = _strip(official_state)
    img = torch.randn(
        batch, 3, size, size, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ref = _official_forward(sd, img, size)
    neck = loaded_model.forward_neck(img)
    assert ref.shape == (batch, 256, size // 16, size // 16)
    assert neck.shape == ref.shape
    # float32 sums run in another order in the two implementations and the
    # random weights amplify it (typical max error 1e-5, once 6e-4 seen
    # under heavy load); a wrong layout or padding gives errors of order 1
    torch.testing.assert_close(neck, ref, rtol=1e-3, atol=1e-3)
    assert ref.std() > 0.5  # LayerNorm2d output: not a degenerate map


def test_forward_at_640_and_runtime(loaded_model, capsys):
    img = torch.randn(
        1, 3, 640, 640, generator=torch.Generator().manual_seed(4))
    start = time.perf_counter()
    feats = loaded_model(img)
    seconds = time.perf_counter() - start
    with capsys.disabled():
        print(f'\nMobileSAMTinyViT: one 640x640 forward (B=1) on CPU with '
              f'{torch.get_num_threads()} threads: {seconds:.2f} s')
    assert [tuple(f.shape) for f in feats] == [(1, 256, 80, 80),
                                               (1, 256, 40, 40),
                                               (1, 256, 20, 20)]
    assert loaded_model.out_channels == [256, 256, 256]
    assert loaded_model.out_strides == [8, 16, 32]
    # stride 16 is the neck output, the others are resampled from it
    neck = feats[1]
    torch.testing.assert_close(
        feats[0],
        F.interpolate(
            neck, scale_factor=2, mode='bilinear', align_corners=False))
    torch.testing.assert_close(feats[2], F.avg_pool2d(neck, 2))


def test_resampling_hand_computed():
    feat = torch.arange(1., 10.).view(1, 1, 3, 3)
    # 2x2 mean pooling, ceil mode: border cells average the cells present
    pooled = MobileSAMTinyViT.resample(feat, 32, (48, 48))
    assert torch.equal(pooled, torch.tensor([[[[3., 4.5], [7.5, 9.]]]]))
    # bilinear x2, align_corners=False: samples at -0.25, 0.25, 0.75, 1.25
    row = torch.tensor([[[[0., 4.]]]])
    up = MobileSAMTinyViT.resample(row, 8, (16, 32))
    assert torch.equal(up, torch.tensor([[[[0., 1., 3., 4.]] * 2]]))
    assert MobileSAMTinyViT.resample(feat, 16, (48, 48)) is feat
    assert [conv_chain_size(200, s) for s in (8, 16, 32)] == [25, 13, 7]


def test_levels_match_yolov8_backbone_at_odd_sizes(plain_model):
    """Level sizes equal those of YOLOv8CSPDarknet for sizes that are not
    multiples of 32 (the expert features they are combined with)."""
    with DefaultScope.overwrite_default_scope('mmioc_rtvp'):
        yolo = MODELS.build(
            dict(
                type='YOLOv8CSPDarknet',
                deepen_factor=0.33,
                widen_factor=0.125,
                out_indices=(2, 3, 4)))
    yolo.eval()
    sam = plain_model
    img = torch.randn(1, 3, 200, 136)
    with torch.no_grad():
        yolo_sizes = [f.shape[-2:] for f in yolo(img)]
    sam_sizes = [f.shape[-2:] for f in sam(img)]
    assert sam_sizes == yolo_sizes == [(25, 17), (13, 9), (7, 5)]


def test_pixel_normalisation(loaded_model, official_file):
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    normalising = _build(
        checkpoint=official_file,
        pixel_mean=mean,
        pixel_std=std,
        out_strides=(16, ))
    img = torch.rand(1, 3, 64, 96)
    expected = loaded_model.forward_neck(
        (img - torch.tensor(mean).view(1, 3, 1, 1)) /
        torch.tensor(std).view(1, 3, 1, 1))
    (out, ) = normalising(img)
    torch.testing.assert_close(out, expected)
    # the statistics are not part of the state dict
    assert set(normalising.state_dict()) == set(loaded_model.state_dict())


# ----------------------------------------------------------------------
# freezing
# ----------------------------------------------------------------------
def test_frozen_by_default():
    model = MobileSAMTinyViT()
    model.train()
    assert not any(m.training for m in model.modules())
    assert not any(p.requires_grad for p in model.parameters())
    bn = model.layers[0].blocks[0].conv1.bn
    stats = bn.running_mean.clone()
    img = torch.randn(2, 3, 64, 64, requires_grad=True)
    feats = model(img)
    assert not any(f.requires_grad for f in feats)
    assert not model.forward_neck(img).requires_grad
    assert torch.equal(bn.running_mean, stats)  # eval: statistics unchanged
    assert int(bn.num_batches_tracked) == 0


def test_trainable_when_not_frozen():
    model = MobileSAMTinyViT(frozen=False, out_strides=(8, 32))
    model.train()
    assert model.training and model.layers[2].blocks[0].attn.training
    feats = model(torch.randn(2, 3, 64, 64))
    sum(f.square().mean() for f in feats).backward()
    assert model.patch_embed.seq[0].c.weight.grad is not None
    assert model.layers[3].blocks[1].attn.attention_biases.grad is not None
    assert model.head.weight.grad is None  # the head is never used
    assert int(model.layers[0].blocks[0].conv1.bn.num_batches_tracked) == 1


# ----------------------------------------------------------------------
# loading
# ----------------------------------------------------------------------
def _assert_loaded(model: MobileSAMTinyViT, state: Dict[str, Tensor]):
    sd = model.state_dict()
    assert set(sd) == set(state)
    for key, value in state.items():
        assert torch.equal(sd[key], value), key


def test_checkpoint_argument_loads_the_official_file(loaded_model,
                                                     official_state):
    _assert_loaded(loaded_model, _strip(official_state))
    # a parent's init_weights() keeps the loaded weights
    loaded_model.init_weights()
    _assert_loaded(loaded_model, _strip(official_state))


@pytest.mark.parametrize('layout', ['model', 'state_dict', 'extracted', 'ddp'])
def test_loader_layouts(tmp_path, plain_model, official_state, layout):
    full = {**official_state, **_fake_sam_decoder_keys()}
    obj = {
        'model': {
            'model': full
        },
        'state_dict': {
            'state_dict': full,
            'meta': {
                'epoch': 3
            }
        },
        'extracted': _strip(official_state),
        'ddp': {
            'module.' + k: v
            for k, v in full.items()
        },
    }[layout]
    path = tmp_path / 'ckpt.pth'
    torch.save(obj, path)
    with torch.no_grad():
        for param in plain_model.parameters():
            param.zero_()
    model = load_mobile_sam_encoder(plain_model, str(path))
    assert model is plain_model
    _assert_loaded(model, _strip(official_state))


def _save(tmp_path, state: Dict[str, Tensor]) -> str:
    path = tmp_path / 'bad.pt'
    torch.save(state, path)
    return str(path)


def test_missing_key_is_named(tmp_path, plain_model, official_state):
    key = PREFIX + 'layers.2.blocks.3.attn.attention_biases'
    state = {k: v for k, v in official_state.items() if k != key}
    path = _save(tmp_path, state)
    with pytest.raises(ValueError) as err:
        load_mobile_sam_encoder(plain_model, path)
    msg = str(err.value)
    assert path in msg and '1 missing keys' in msg and key in msg
    assert '\n' not in msg


def test_wrong_shape_is_named(tmp_path, official_state):
    state = dict(official_state)
    state[PREFIX + 'neck.2.weight'] = torch.zeros(256, 256, 1, 1)
    path = _save(tmp_path, state)
    with pytest.raises(
            ValueError,
            match=re.escape(
                'image_encoder.neck.2.weight: file (256, 256, 1, 1) vs model '
                '(256, 256, 3, 3)')) as err:
        _build(checkpoint=path)
    assert path in str(err.value)


def test_unexpected_key_is_named(tmp_path, plain_model, official_state):
    state = _strip(official_state)
    state['layers.3.downsample.conv1.c.weight'] = torch.zeros(1)
    path = _save(tmp_path, state)
    with pytest.raises(
            ValueError,
            match='1 unexpected keys '
            r'\[layers.3.downsample.conv1.c.weight\]'):
        load_mobile_sam_encoder(plain_model, path)


def test_bad_files(tmp_path, plain_model):
    missing = str(tmp_path / 'nope' / 'mobile_sam.pt')
    with pytest.raises(FileNotFoundError, match=re.escape(missing)):
        _build(checkpoint=missing)  # before building the network
    with pytest.raises(FileNotFoundError, match=re.escape(missing)):
        load_mobile_sam_encoder(plain_model, missing)
    # a pickle with an arbitrary object is refused by weights_only=True
    unsafe = tmp_path / 'unsafe.pt'
    torch.save({'x': torch.zeros(1), 'obj': _Unsafe()}, unsafe)
    with pytest.raises(
            RuntimeError, match=f'{re.escape(str(unsafe))}.*'
            'weights_only=True'):
        load_mobile_sam_encoder(plain_model, str(unsafe))
    tensor_file = tmp_path / 'tensor.pt'
    torch.save(torch.zeros(3), tensor_file)
    with pytest.raises(ValueError, match='holds a Tensor, not a state dict'):
        load_mobile_sam_encoder(plain_model, str(tensor_file))
    # a ViT-H SAM has image_encoder.* keys, but the wrong ones
    vit_h = tmp_path / 'sam_vit_h.pt'
    torch.save({PREFIX + 'pos_embed': torch.zeros(1, 64, 64, 8)}, vit_h)
    with pytest.raises(
            ValueError,
            match=r'302 missing keys \[image_encoder'
            r'.patch_embed.seq.0.c.weight, .* and 292 more\]; 1 '
            r'unexpected keys \[image_encoder.pos_embed\]'):
        load_mobile_sam_encoder(plain_model, str(vit_h))


class _Unsafe:
    """Any class: not allowed by the weights-only unpickler."""


def test_config_errors(plain_model):
    with pytest.raises(ValueError, match="pass checkpoint='x.pt' instead"):
        _build(init_cfg=dict(type='Pretrained', checkpoint='x.pt'))
    with pytest.raises(ValueError, match='increasing subset'):
        MobileSAMTinyViT(out_strides=(16, 8))
    with pytest.raises(ValueError, match='increasing subset'):
        MobileSAMTinyViT(out_strides=(4, ))
    with pytest.raises(ValueError, match='both pixel_mean and pixel_std'):
        MobileSAMTinyViT(pixel_mean=(0., 0., 0.))
    with pytest.raises(ValueError, match='4 stages'):
        MobileSAMTinyViT(depths=(2, 2, 6))
    with pytest.raises(ValueError, match=r'\(B, 3, H, W\), got \(3, 64, 64\)'):
        plain_model(torch.zeros(3, 64, 64))


# A copy of reference/mobile_sam_image_encoder_keys.tsv: the image_encoder.*
# entries of the official mobile_sam.pt (key, shape, dtype), in file order.
OFFICIAL_KEYS_TSV = '''
# key	shape	dtype  (MobileSAM image encoder, official layout: a Sam state dict's image_encoder.* entries)
image_encoder.patch_embed.seq.0.c.weight	(32, 3, 3, 3)	torch.float32
image_encoder.patch_embed.seq.0.bn.weight	(32,)	torch.float32
image_encoder.patch_embed.seq.0.bn.bias	(32,)	torch.float32
image_encoder.patch_embed.seq.0.bn.running_mean	(32,)	torch.float32
image_encoder.patch_embed.seq.0.bn.running_var	(32,)	torch.float32
image_encoder.patch_embed.seq.0.bn.num_batches_tracked	()	torch.int64
image_encoder.patch_embed.seq.2.c.weight	(64, 32, 3, 3)	torch.float32
image_encoder.patch_embed.seq.2.bn.weight	(64,)	torch.float32
image_encoder.patch_embed.seq.2.bn.bias	(64,)	torch.float32
image_encoder.patch_embed.seq.2.bn.running_mean	(64,)	torch.float32
image_encoder.patch_embed.seq.2.bn.running_var	(64,)	torch.float32
image_encoder.patch_embed.seq.2.bn.num_batches_tracked	()	torch.int64
image_encoder.layers.0.blocks.0.conv1.c.weight	(256, 64, 1, 1)	torch.float32
image_encoder.layers.0.blocks.0.conv1.bn.weight	(256,)	torch.float32
image_encoder.layers.0.blocks.0.conv1.bn.bias	(256,)	torch.float32
image_encoder.layers.0.blocks.0.conv1.bn.running_mean	(256,)	torch.float32
image_encoder.layers.0.blocks.0.conv1.bn.running_var	(256,)	torch.float32
image_encoder.layers.0.blocks.0.conv1.bn.num_batches_tracked	()	torch.int64
image_encoder.layers.0.blocks.0.conv2.c.weight	(256, 1, 3, 3)	torch.float32
image_encoder.layers.0.blocks.0.conv2.bn.weight	(256,)	torch.float32
image_encoder.layers.0.blocks.0.conv2.bn.bias	(256,)	torch.float32
image_encoder.layers.0.blocks.0.conv2.bn.running_mean	(256,)	torch.float32
image_encoder.layers.0.blocks.0.conv2.bn.running_var	(256,)	torch.float32
image_encoder.layers.0.blocks.0.conv2.bn.num_batches_tracked	()	torch.int64
image_encoder.layers.0.blocks.0.conv3.c.weight	(64, 256, 1, 1)	torch.float32
image_encoder.layers.0.blocks.0.conv3.bn.weight	(64,)	torch.float32
image_encoder.layers.0.blocks.0.conv3.bn.bias	(64,)	torch.float32
image_encoder.layers.0.blocks.0.conv3.bn.running_mean	(64,)	torch.float32
image_encoder.layers.0.blocks.0.conv3.bn.running_var	(64,)	torch.float32
image_encoder.layers.0.blocks.0.conv3.bn.num_batches_tracked	()	torch.int64
image_encoder.layers.0.blocks.1.conv1.c.weight	(256, 64, 1, 1)	torch.float32
image_encoder.layers.0.blocks.1.conv1.bn.weight	(256,)	torch.float32
image_encoder.layers.0.blocks.1.conv1.bn.bias	(256,)	torch.float32
image_encoder.layers.0.blocks.1.conv1.bn.running_mean	(256,)	torch.float32
image_encoder.layers.0.blocks.1.conv1.bn.running_var	(256,)	torch.float32
image_encoder.layers.0.blocks.1.conv1.bn.num_batches_tracked	()	torch.int64
image_encoder.layers.0.blocks.1.conv2.c.weight	(256, 1, 3, 3)	torch.float32
image_encoder.layers.0.blocks.1.conv2.bn.weight	(256,)	torch.float32
image_encoder.layers.0.blocks.1.conv2.bn.bias	(256,)	torch.float32
image_encoder.layers.0.blocks.1.conv2.bn.running_mean	(256,)	torch.float32
image_encoder.layers.0.blocks.1.conv2.bn.running_var	(256,)	torch.float32
image_encoder.layers.0.blocks.1.conv2.bn.num_batches_tracked	()	torch.int64
image_encoder.layers.0.blocks.1.conv3.c.weight	(64, 256, 1, 1)	torch.float32
image_encoder.layers.0.blocks.1.conv3.bn.weight	(64,)	torch.float32
image_encoder.layers.0.blocks.1.conv3.bn.bias	(64,)	torch.float32
image_encoder.layers.0.blocks.1.conv3.bn.running_mean	(64,)	torch.float32
image_encoder.layers.0.blocks.1.conv3.bn.running_var	(64,)	torch.float32
image_encoder.layers.0.blocks.1.conv3.bn.num_batches_tracked	()	torch.int64
image_encoder.layers.0.downsample.conv1.c.weight	(128, 64, 1, 1)	torch.float32
image_encoder.layers.0.downsample.conv1.bn.weight	(128,)	torch.float32
image_encoder.layers.0.downsample.conv1.bn.bias	(128,)	torch.float32
image_encoder.layers.0.downsample.conv1.bn.running_mean	(128,)	torch.float32
image_encoder.layers.0.downsample.conv1.bn.running_var	(128,)	torch.float32
image_encoder.layers.0.downsample.conv1.bn.num_batches_tracked	()	torch.int64
image_encoder.layers.0.downsample.conv2.c.weight	(128, 1, 3, 3)	torch.float32
image_encoder.layers.0.downsample.conv2.bn.weight	(128,)	torch.float32
image_encoder.layers.0.downsample.conv2.bn.bias	(128,)	torch.float32
image_encoder.layers.0.downsample.conv2.bn.running_mean	(128,)	torch.float32
image_encoder.layers.0.downsample.conv2.bn.running_var	(128,)	torch.float32
image_encoder.layers.0.downsample.conv2.bn.num_batches_tracked	()	torch.int64
image_encoder.layers.0.downsample.conv3.c.weight	(128, 128, 1, 1)	torch.float32
image_encoder.layers.0.downsample.conv3.bn.weight	(128,)	torch.float32
image_encoder.layers.0.downsample.conv3.bn.bias	(128,)	torch.float32
image_encoder.layers.0.downsample.conv3.bn.running_mean	(128,)	torch.float32
image_encoder.layers.0.downsample.conv3.bn.running_var	(128,)	torch.float32
image_encoder.layers.0.downsample.conv3.bn.num_batches_tracked	()	torch.int64
image_encoder.layers.1.blocks.0.attn.attention_biases	(4, 49)	torch.float32
image_encoder.layers.1.blocks.0.attn.norm.weight	(128,)	torch.float32
image_encoder.layers.1.blocks.0.attn.norm.bias	(128,)	torch.float32
image_encoder.layers.1.blocks.0.attn.qkv.weight	(384, 128)	torch.float32
image_encoder.layers.1.blocks.0.attn.qkv.bias	(384,)	torch.float32
image_encoder.layers.1.blocks.0.attn.proj.weight	(128, 128)	torch.float32
image_encoder.layers.1.blocks.0.attn.proj.bias	(128,)	torch.float32
image_encoder.layers.1.blocks.0.mlp.norm.weight	(128,)	torch.float32
image_encoder.layers.1.blocks.0.mlp.norm.bias	(128,)	torch.float32
image_encoder.layers.1.blocks.0.mlp.fc1.weight	(512, 128)	torch.float32
image_encoder.layers.1.blocks.0.mlp.fc1.bias	(512,)	torch.float32
image_encoder.layers.1.blocks.0.mlp.fc2.weight	(128, 512)	torch.float32
image_encoder.layers.1.blocks.0.mlp.fc2.bias	(128,)	torch.float32
image_encoder.layers.1.blocks.0.local_conv.c.weight	(128, 1, 3, 3)	torch.float32
image_encoder.layers.1.blocks.0.local_conv.bn.weight	(128,)	torch.float32
image_encoder.layers.1.blocks.0.local_conv.bn.bias	(128,)	torch.float32
image_encoder.layers.1.blocks.0.local_conv.bn.running_mean	(128,)	torch.float32
image_encoder.layers.1.blocks.0.local_conv.bn.running_var	(128,)	torch.float32
image_encoder.layers.1.blocks.0.local_conv.bn.num_batches_tracked	()	torch.int64
image_encoder.layers.1.blocks.1.attn.attention_biases	(4, 49)	torch.float32
image_encoder.layers.1.blocks.1.attn.norm.weight	(128,)	torch.float32
image_encoder.layers.1.blocks.1.attn.norm.bias	(128,)	torch.float32
image_encoder.layers.1.blocks.1.attn.qkv.weight	(384, 128)	torch.float32
image_encoder.layers.1.blocks.1.attn.qkv.bias	(384,)	torch.float32
image_encoder.layers.1.blocks.1.attn.proj.weight	(128, 128)	torch.float32
image_encoder.layers.1.blocks.1.attn.proj.bias	(128,)	torch.float32
image_encoder.layers.1.blocks.1.mlp.norm.weight	(128,)	torch.float32
image_encoder.layers.1.blocks.1.mlp.norm.bias	(128,)	torch.float32
image_encoder.layers.1.blocks.1.mlp.fc1.weight	(512, 128)	torch.float32
image_encoder.layers.1.blocks.1.mlp.fc1.bias	(512,)	torch.float32
image_encoder.layers.1.blocks.1.mlp.fc2.weight	(128, 512)	torch.float32
image_encoder.layers.1.blocks.1.mlp.fc2.bias	(128,)	torch.float32
image_encoder.layers.1.blocks.1.local_conv.c.weight	(128, 1, 3, 3)	torch.float32
image_encoder.layers.1.blocks.1.local_conv.bn.weight	(128,)	torch.float32
image_encoder.layers.1.blocks.1.local_conv.bn.bias	(128,)	torch.float32
image_encoder.layers.1.blocks.1.local_conv.bn.running_mean	(128,)	torch.float32
image_encoder.layers.1.blocks.1.local_conv.bn.running_var	(128,)	torch.float32
image_encoder.layers.1.blocks.1.local_conv.bn.num_batches_tracked	()	torch.int64
image_encoder.layers.1.downsample.conv1.c.weight	(160, 128, 1, 1)	torch.float32
image_encoder.layers.1.downsample.conv1.bn.weight	(160,)	torch.float32
image_encoder.layers.1.downsample.conv1.bn.bias	(160,)	torch.float32
image_encoder.layers.1.downsample.conv1.bn.running_mean	(160,)	torch.float32
image_encoder.layers.1.downsample.conv1.bn.running_var	(160,)	torch.float32
image_encoder.layers.1.downsample.conv1.bn.num_batches_tracked	()	torch.int64
image_encoder.layers.1.downsample.conv2.c.weight	(160, 1, 3, 3)	torch.float32
image_encoder.layers.1.downsample.conv2.bn.weight	(160,)	torch.float32
image_encoder.layers.1.downsample.conv2.bn.bias	(160,)	torch.float32
image_encoder.layers.1.downsample.conv2.bn.running_mean	(160,)	torch.float32
image_encoder.layers.1.downsample.conv2.bn.running_var	(160,)	torch.float32
image_encoder.layers.1.downsample.conv2.bn.num_batches_tracked	()	torch.int64
image_encoder.layers.1.downsample.conv3.c.weight	(160, 160, 1, 1)	torch.float32
image_encoder.layers.1.downsample.conv3.bn.weight	(160,)	torch.float32
image_encoder.layers.1.downsample.conv3.bn.bias	(160,)	torch.float32
image_encoder.layers.1.downsample.conv3.bn.running_mean	(160,)	torch.float32
image_encoder.layers.1.downsample.conv3.bn.running_var	(160,)	torch.float32
image_encoder.layers.1.downsample.conv3.bn.num_batches_tracked	()	torch.int64
image_encoder.layers.2.blocks.0.attn.attention_biases	(5, 196)	torch.float32
image_encoder.layers.2.blocks.0.attn.norm.weight	(160,)	torch.float32
image_encoder.layers.2.blocks.0.attn.norm.bias	(160,)	torch.float32
image_encoder.layers.2.blocks.0.attn.qkv.weight	(480, 160)	torch.float32
image_encoder.layers.2.blocks.0.attn.qkv.bias	(480,)	torch.float32
image_encoder.layers.2.blocks.0.attn.proj.weight	(160, 160)	torch.float32
image_encoder.layers.2.blocks.0.attn.proj.bias	(160,)	torch.float32
image_encoder.layers.2.blocks.0.mlp.norm.weight	(160,)	torch.float32
image_encoder.layers.2.blocks.0.mlp.norm.bias	(160,)	torch.float32
image_encoder.layers.2.blocks.0.mlp.fc1.weight	(640, 160)	torch.float32
image_encoder.layers.2.blocks.0.mlp.fc1.bias	(640,)	torch.float32
image_encoder.layers.2.blocks.0.mlp.fc2.weight	(160, 640)	torch.float32
image_encoder.layers.2.blocks.0.mlp.fc2.bias	(160,)	torch.float32
image_encoder.layers.2.blocks.0.local_conv.c.weight	(160, 1, 3, 3)	torch.float32
image_encoder.layers.2.blocks.0.local_conv.bn.weight	(160,)	torch.float32
image_encoder.layers.2.blocks.0.local_conv.bn.bias	(160,)	torch.float32
image_encoder.layers.2.blocks.0.local_conv.bn.running_mean	(160,)	torch.float32
image_encoder.layers.2.blocks.0.local_conv.bn.running_var	(160,)	torch.float32
image_encoder.layers.2.blocks.0.local_conv.bn.num_batches_tracked	()	torch.int64
image_encoder.layers.2.blocks.1.attn.attention_biases	(5, 196)	torch.float32
image_encoder.layers.2.blocks.1.attn.norm.weight	(160,)	torch.float32
image_encoder.layers.2.blocks.1.attn.norm.bias	(160,)	torch.float32
image_encoder.layers.2.blocks.1.attn.qkv.weight	(480, 160)	torch.float32
image_encoder.layers.2.blocks.1.attn.qkv.bias	(480,)	torch.float32
image_encoder.layers.2.blocks.1.attn.proj.weight	(160, 160)	torch.float32
image_encoder.layers.2.blocks.1.attn.proj.bias	(160,)	torch.float32
image_encoder.layers.2.blocks.1.mlp.norm.weight	(160,)	torch.float32
image_encoder.layers.2.blocks.1.mlp.norm.bias	(160,)	torch.float32
image_encoder.layers.2.blocks.1.mlp.fc1.weight	(640, 160)	torch.float32
image_encoder.layers.2.blocks.1.mlp.fc1.bias	(640,)	torch.float32
image_encoder.layers.2.blocks.1.mlp.fc2.weight	(160, 640)	torch.float32
image_encoder.layers.2.blocks.1.mlp.fc2.bias	(160,)	torch.float32
image_encoder.layers.2.blocks.1.local_conv.c.weight	(160, 1, 3, 3)	torch.float32
image_encoder.layers.2.blocks.1.local_conv.bn.weight	(160,)	torch.float32
image_encoder.layers.2.blocks.1.local_conv.bn.bias	(160,)	torch.float32
image_encoder.layers.2.blocks.1.local_conv.bn.running_mean	(160,)	torch.float32
image_encoder.layers.2.blocks.1.local_conv.bn.running_var	(160,)	torch.float32
image_encoder.layers.2.blocks.1.local_conv.bn.num_batches_tracked	()	torch.int64
image_encoder.layers.2.blocks.2.attn.attention_biases	(5, 196)	torch.float32
image_encoder.layers.2.blocks.2.attn.norm.weight	(160,)	torch.float32
image_encoder.layers.2.blocks.2.attn.norm.bias	(160,)	torch.float32
image_encoder.layers.2.blocks.2.attn.qkv.weight	(480, 160)	torch.float32
image_encoder.layers.2.blocks.2.attn.qkv.bias	(480,)	torch.float32
image_encoder.layers.2.blocks.2.attn.proj.weight	(160, 160)	torch.float32
image_encoder.layers.2.blocks.2.attn.proj.bias	(160,)	torch.float32
image_encoder.layers.2.blocks.2.mlp.norm.weight	(160,)	torch.float32
image_encoder.layers.2.blocks.2.mlp.norm.bias	(160,)	torch.float32
image_encoder.layers.2.blocks.2.mlp.fc1.weight	(640, 160)	torch.float32
image_encoder.layers.2.blocks.2.mlp.fc1.bias	(640,)	torch.float32
image_encoder.layers.2.blocks.2.mlp.fc2.weight	(160, 640)	torch.float32
image_encoder.layers.2.blocks.2.mlp.fc2.bias	(160,)	torch.float32
image_encoder.layers.2.blocks.2.local_conv.c.weight	(160, 1, 3, 3)	torch.float32
image_encoder.layers.2.blocks.2.local_conv.bn.weight	(160,)	torch.float32
image_encoder.layers.2.blocks.2.local_conv.bn.bias	(160,)	torch.float32
image_encoder.layers.2.blocks.2.local_conv.bn.running_mean	(160,)	torch.float32
image_encoder.layers.2.blocks.2.local_conv.bn.running_var	(160,)	torch.float32
image_encoder.layers.2.blocks.2.local_conv.bn.num_batches_tracked	()	torch.int64
image_encoder.layers.2.blocks.3.attn.attention_biases	(5, 196)	torch.float32
image_encoder.layers.2.blocks.3.attn.norm.weight	(160,)	torch.float32
image_encoder.layers.2.blocks.3.attn.norm.bias	(160,)	torch.float32
image_encoder.layers.2.blocks.3.attn.qkv.weight	(480, 160)	torch.float32
image_encoder.layers.2.blocks.3.attn.qkv.bias	(480,)	torch.float32
image_encoder.layers.2.blocks.3.attn.proj.weight	(160, 160)	torch.float32
image_encoder.layers.2.blocks.3.attn.proj.bias	(160,)	torch.float32
image_encoder.layers.2.blocks.3.mlp.norm.weight	(160,)	torch.float32
image_encoder.layers.2.blocks.3.mlp.norm.bias	(160,)	torch.float32
image_encoder.layers.2.blocks.3.mlp.fc1.weight	(640, 160)	torch.float32
image_encoder.layers.2.blocks.3.mlp.fc1.bias	(640,)	torch.float32
image_encoder.layers.2.blocks.3.mlp.fc2.weight	(160, 640)	torch.float32
image_encoder.layers.2.blocks.3.mlp.fc2.bias	(160,)	torch.float32
image_encoder.layers.2.blocks.3.local_conv.c.weight	(160, 1, 3, 3)	torch.float32
image_encoder.layers.2.blocks.3.local_conv.bn.weight	(160,)	torch.float32
image_encoder.layers.2.blocks.3.local_conv.bn.bias	(160,)	torch.float32
image_encoder.layers.2.blocks.3.local_conv.bn.running_mean	(160,)	torch.float32
image_encoder.layers.2.blocks.3.local_conv.bn.running_var	(160,)	torch.float32
image_encoder.layers.2.blocks.3.local_conv.bn.num_batches_tracked	()	torch.int64
image_encoder.layers.2.blocks.4.attn.attention_biases	(5, 196)	torch.float32
image_encoder.layers.2.blocks.4.attn.norm.weight	(160,)	torch.float32
image_encoder.layers.2.blocks.4.attn.norm.bias	(160,)	torch.float32
image_encoder.layers.2.blocks.4.attn.qkv.weight	(480, 160)	torch.float32
image_encoder.layers.2.blocks.4.attn.qkv.bias	(480,)	torch.float32
image_encoder.layers.2.blocks.4.attn.proj.weight	(160, 160)	torch.float32
image_encoder.layers.2.blocks.4.attn.proj.bias	(160,)	torch.float32
image_encoder.layers.2.blocks.4.mlp.norm.weight	(160,)	torch.float32
image_encoder.layers.2.blocks.4.mlp.norm.bias	(160,)	torch.float32
image_encoder.layers.2.blocks.4.mlp.fc1.weight	(640, 160)	torch.float32
image_encoder.layers.2.blocks.4.mlp.fc1.bias	(640,)	torch.float32
image_encoder.layers.2.blocks.4.mlp.fc2.weight	(160, 640)	torch.float32
image_encoder.layers.2.blocks.4.mlp.fc2.bias	(160,)	torch.float32
image_encoder.layers.2.blocks.4.local_conv.c.weight	(160, 1, 3, 3)	torch.float32
image_encoder.layers.2.blocks.4.local_conv.bn.weight	(160,)	torch.float32
image_encoder.layers.2.blocks.4.local_conv.bn.bias	(160,)	torch.float32
image_encoder.layers.2.blocks.4.local_conv.bn.running_mean	(160,)	torch.float32
image_encoder.layers.2.blocks.4.local_conv.bn.running_var	(160,)	torch.float32
image_encoder.layers.2.blocks.4.local_conv.bn.num_batches_tracked	()	torch.int64
image_encoder.layers.2.blocks.5.attn.attention_biases	(5, 196)	torch.float32
image_encoder.layers.2.blocks.5.attn.norm.weight	(160,)	torch.float32
image_encoder.layers.2.blocks.5.attn.norm.bias	(160,)	torch.float32
image_encoder.layers.2.blocks.5.attn.qkv.weight	(480, 160)	torch.float32
image_encoder.layers.2.blocks.5.attn.qkv.bias	(480,)	torch.float32
image_encoder.layers.2.blocks.5.attn.proj.weight	(160, 160)	torch.float32
image_encoder.layers.2.blocks.5.attn.proj.bias	(160,)	torch.float32
image_encoder.layers.2.blocks.5.mlp.norm.weight	(160,)	torch.float32
image_encoder.layers.2.blocks.5.mlp.norm.bias	(160,)	torch.float32
image_encoder.layers.2.blocks.5.mlp.fc1.weight	(640, 160)	torch.float32
image_encoder.layers.2.blocks.5.mlp.fc1.bias	(640,)	torch.float32
image_encoder.layers.2.blocks.5.mlp.fc2.weight	(160, 640)	torch.float32
image_encoder.layers.2.blocks.5.mlp.fc2.bias	(160,)	torch.float32
image_encoder.layers.2.blocks.5.local_conv.c.weight	(160, 1, 3, 3)	torch.float32
image_encoder.layers.2.blocks.5.local_conv.bn.weight	(160,)	torch.float32
image_encoder.layers.2.blocks.5.local_conv.bn.bias	(160,)	torch.float32
image_encoder.layers.2.blocks.5.local_conv.bn.running_mean	(160,)	torch.float32
image_encoder.layers.2.blocks.5.local_conv.bn.running_var	(160,)	torch.float32
image_encoder.layers.2.blocks.5.local_conv.bn.num_batches_tracked	()	torch.int64
image_encoder.layers.2.downsample.conv1.c.weight	(320, 160, 1, 1)	torch.float32
image_encoder.layers.2.downsample.conv1.bn.weight	(320,)	torch.float32
image_encoder.layers.2.downsample.conv1.bn.bias	(320,)	torch.float32
image_encoder.layers.2.downsample.conv1.bn.running_mean	(320,)	torch.float32
image_encoder.layers.2.downsample.conv1.bn.running_var	(320,)	torch.float32
image_encoder.layers.2.downsample.conv1.bn.num_batches_tracked	()	torch.int64
image_encoder.layers.2.downsample.conv2.c.weight	(320, 1, 3, 3)	torch.float32
image_encoder.layers.2.downsample.conv2.bn.weight	(320,)	torch.float32
image_encoder.layers.2.downsample.conv2.bn.bias	(320,)	torch.float32
image_encoder.layers.2.downsample.conv2.bn.running_mean	(320,)	torch.float32
image_encoder.layers.2.downsample.conv2.bn.running_var	(320,)	torch.float32
image_encoder.layers.2.downsample.conv2.bn.num_batches_tracked	()	torch.int64
image_encoder.layers.2.downsample.conv3.c.weight	(320, 320, 1, 1)	torch.float32
image_encoder.layers.2.downsample.conv3.bn.weight	(320,)	torch.float32
image_encoder.layers.2.downsample.conv3.bn.bias	(320,)	torch.float32
image_encoder.layers.2.downsample.conv3.bn.running_mean	(320,)	torch.float32
image_encoder.layers.2.downsample.conv3.bn.running_var	(320,)	torch.float32
image_encoder.layers.2.downsample.conv3.bn.num_batches_tracked	()	torch.int64
image_encoder.layers.3.blocks.0.attn.attention_biases	(10, 49)	torch.float32
image_encoder.layers.3.blocks.0.attn.norm.weight	(320,)	torch.float32
image_encoder.layers.3.blocks.0.attn.norm.bias	(320,)	torch.float32
image_encoder.layers.3.blocks.0.attn.qkv.weight	(960, 320)	torch.float32
image_encoder.layers.3.blocks.0.attn.qkv.bias	(960,)	torch.float32
image_encoder.layers.3.blocks.0.attn.proj.weight	(320, 320)	torch.float32
image_encoder.layers.3.blocks.0.attn.proj.bias	(320,)	torch.float32
image_encoder.layers.3.blocks.0.mlp.norm.weight	(320,)	torch.float32
image_encoder.layers.3.blocks.0.mlp.norm.bias	(320,)	torch.float32
image_encoder.layers.3.blocks.0.mlp.fc1.weight	(1280, 320)	torch.float32
image_encoder.layers.3.blocks.0.mlp.fc1.bias	(1280,)	torch.float32
image_encoder.layers.3.blocks.0.mlp.fc2.weight	(320, 1280)	torch.float32
image_encoder.layers.3.blocks.0.mlp.fc2.bias	(320,)	torch.float32
image_encoder.layers.3.blocks.0.local_conv.c.weight	(320, 1, 3, 3)	torch.float32
image_encoder.layers.3.blocks.0.local_conv.bn.weight	(320,)	torch.float32
image_encoder.layers.3.blocks.0.local_conv.bn.bias	(320,)	torch.float32
image_encoder.layers.3.blocks.0.local_conv.bn.running_mean	(320,)	torch.float32
image_encoder.layers.3.blocks.0.local_conv.bn.running_var	(320,)	torch.float32
image_encoder.layers.3.blocks.0.local_conv.bn.num_batches_tracked	()	torch.int64
image_encoder.layers.3.blocks.1.attn.attention_biases	(10, 49)	torch.float32
image_encoder.layers.3.blocks.1.attn.norm.weight	(320,)	torch.float32
image_encoder.layers.3.blocks.1.attn.norm.bias	(320,)	torch.float32
image_encoder.layers.3.blocks.1.attn.qkv.weight	(960, 320)	torch.float32
image_encoder.layers.3.blocks.1.attn.qkv.bias	(960,)	torch.float32
image_encoder.layers.3.blocks.1.attn.proj.weight	(320, 320)	torch.float32
image_encoder.layers.3.blocks.1.attn.proj.bias	(320,)	torch.float32
image_encoder.layers.3.blocks.1.mlp.norm.weight	(320,)	torch.float32
image_encoder.layers.3.blocks.1.mlp.norm.bias	(320,)	torch.float32
image_encoder.layers.3.blocks.1.mlp.fc1.weight	(1280, 320)	torch.float32
image_encoder.layers.3.blocks.1.mlp.fc1.bias	(1280,)	torch.float32
image_encoder.layers.3.blocks.1.mlp.fc2.weight	(320, 1280)	torch.float32
image_encoder.layers.3.blocks.1.mlp.fc2.bias	(320,)	torch.float32
image_encoder.layers.3.blocks.1.local_conv.c.weight	(320, 1, 3, 3)	torch.float32
image_encoder.layers.3.blocks.1.local_conv.bn.weight	(320,)	torch.float32
image_encoder.layers.3.blocks.1.local_conv.bn.bias	(320,)	torch.float32
image_encoder.layers.3.blocks.1.local_conv.bn.running_mean	(320,)	torch.float32
image_encoder.layers.3.blocks.1.local_conv.bn.running_var	(320,)	torch.float32
image_encoder.layers.3.blocks.1.local_conv.bn.num_batches_tracked	()	torch.int64
image_encoder.norm_head.weight	(320,)	torch.float32
image_encoder.norm_head.bias	(320,)	torch.float32
image_encoder.head.weight	(1000, 320)	torch.float32
image_encoder.head.bias	(1000,)	torch.float32
image_encoder.neck.0.weight	(256, 320, 1, 1)	torch.float32
image_encoder.neck.1.weight	(256,)	torch.float32
image_encoder.neck.1.bias	(256,)	torch.float32
image_encoder.neck.2.weight	(256, 256, 3, 3)	torch.float32
image_encoder.neck.3.weight	(256,)	torch.float32
image_encoder.neck.3.bias	(256,)	torch.float32
'''  # noqa: E501


def test_input_downsample_runs_the_encoder_on_the_pooled_image(
        plain_model):
    """``input_downsample=2``: the encoder sees the 2x2-mean-pooled image,
    its stride-32 neck output is stride 32 as is and is up-sampled to
    strides 16 and 8; the level sizes are those of the full input."""
    fast = MobileSAMTinyViT(input_downsample=2)
    fast.load_state_dict(plain_model.state_dict())
    img = torch.rand(1, 3, 128, 96)
    with torch.no_grad():
        feats = fast(img)
        neck = plain_model.forward_neck(F.avg_pool2d(img, 2))
        full = plain_model(img)
    assert [f.shape for f in feats] == [f.shape for f in full]
    assert neck.shape[-2:] == (4, 3)
    torch.testing.assert_close(feats[2], neck)
    torch.testing.assert_close(
        feats[1], F.interpolate(neck, size=(8, 6), mode='bilinear',
                                align_corners=False))
    torch.testing.assert_close(
        feats[0], F.interpolate(neck, size=(16, 12), mode='bilinear',
                                align_corners=False))
    with pytest.raises(ValueError, match='input_downsample must be a '
                       'positive int'):
        MobileSAMTinyViT(input_downsample=1.5)
