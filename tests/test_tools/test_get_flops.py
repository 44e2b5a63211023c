# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Tests of tools/analysis_tools/get_flops.py (the counter, the table and the
command line) on tiny models and hand-computed MAC counts."""
import os.path as osp
import subprocess
import sys

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.analysis import FlopAnalyzer

from mmioc_rtvp.testing import stand_in_model
from tests.test_models.rtvpnet_utils import (TINY_VISUAL_ENCODER,
                                             build_tiny_rtvpnet,
                                             tiny_rtvpnet_cfg)
from tests.test_models.yolo_world_utils import tiny_yolo_world_cfg
from tests.utils.tiny_clip import save_tiny_clip
from tests.utils.scripts import load_script

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO_ROOT, 'tools', 'analysis_tools', 'get_flops.py')
SIZE = 64
PROMPTS = ['scratch', 'metal', 'crack on metal']


gf = load_script(osp.relpath(TOOL, REPO_ROOT), 'get_flops_under_test')


@pytest.fixture(scope='module')
def tiny_rtvpnet():
    torch.manual_seed(0)
    model = build_tiny_rtvpnet().eval()
    # non-zero adapters (they start at zero), so that nothing is skipped
    for conv in model.prompt_adapters:
        nn.init.normal_(conv.weight)
    return model


@pytest.fixture(scope='module')
def tiny_report(tiny_rtvpnet):
    return gf.count_model(tiny_rtvpnet, (SIZE, SIZE), PROMPTS, 'tiny')


@pytest.fixture(scope='module')
def tiny_clip_16(tmp_path_factory):
    """A tiny random CLIP (projection 16) in the hub layout."""
    return str(save_tiny_clip(tmp_path_factory.mktemp('clip16'), 16))


def _rows(report):
    return {r.name: r for r in report.rows}


# ----------------------------------------------------------------------
# the counting rules, by hand
# ----------------------------------------------------------------------
@pytest.mark.parametrize('cin,cout,k,stride,hw,expected', [
    (3, 5, 1, 1, (7, 9), 3 * 5 * 7 * 9),
    (4, 6, 3, 2, (8, 8), 4 * 6 * 9 * 4 * 4),
])
def test_conv_macs_by_hand(cin, cout, k, stride, hw, expected):
    conv = nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)
    x = torch.rand(1, cin, *hw)
    assert gf.make_analyzer(conv, (x, )).total() == expected


def test_attention_handle_counts_qk_and_av():

    class Attention(nn.Module):

        def forward(self, q, k, v):
            return F.scaled_dot_product_attention(q, k, v)

    q, k, v = torch.rand(2, 3, 5, 4), torch.rand(2, 3, 7, 4), torch.rand(
        2, 3, 7, 6)
    analyzer = gf.make_analyzer(Attention(), (q, k, v))
    # Q K^T: 2*3 * 5*7*4; A V: 2*3 * 5*7*6
    assert analyzer.total() == 2 * 3 * 5 * 7 * (4 + 6)
    assert not analyzer.unsupported_ops()
    # mmengine alone does not count it: the handle is what adds it
    plain = FlopAnalyzer(Attention(), (q, k, v))
    plain.unsupported_ops_warnings(False)
    assert plain.total() == 0


# ----------------------------------------------------------------------
# the table of a tiny RTVPNet
# ----------------------------------------------------------------------
def test_rows_are_the_top_level_modules(tiny_report):
    assert [r.name for r in tiny_report.rows] == [
        'backbone.image_model', 'backbone.text_model', 'visual_encoder',
        'domain_projection', 'visual_prompts', 'prompt_aux_head',
        'prompt_adapters', 'neck', 'visual_text', 'bbox_head'
    ]


def test_prompt_adapter_macs_by_hand(tiny_rtvpnet, tiny_report):
    prompt_channels = tiny_rtvpnet.domain_projection.out_channels
    expert_channels = tiny_rtvpnet.backbone.out_channels
    sides = [SIZE // s for s in (8, 16, 32)]
    expected = sum(cp * ce * s * s for cp, ce, s in zip(
        prompt_channels, expert_channels, sides))
    assert expected > 0
    assert _rows(tiny_report)['prompt_adapters'].macs == expected


def test_aux_head_is_counted_for_training_only(tiny_rtvpnet, tiny_report):
    row = _rows(tiny_report)['prompt_aux_head']
    assert row.macs == 0
    # per level: 3x3 conv C_p -> 8, then 1x1 conv 8 -> 4
    sides = [SIZE // s for s in (8, 16, 32)]
    expected = sum(c * 8 * 9 * s * s + 8 * 4 * s * s for c, s in zip(
        tiny_rtvpnet.domain_projection.out_channels, sides))
    assert row.train_macs == expected
    text = gf.format_report(tiny_report)
    assert 'training only, not run at test' in text
    assert f'train-time cost {expected / 1e9:.3f} GMACs' in text


def test_rows_sum_to_the_total(tiny_report):
    image_rows = [
        r.macs for r in tiny_report.rows if r.name != 'backbone.text_model'
    ]
    assert tiny_report.other_macs == 0
    assert sum(image_rows) == tiny_report.image_macs > 0


def test_rows_match_the_modules_counted_alone(tiny_rtvpnet, tiny_report):
    """A module's row is what the counter gives for that module alone, on
    the inputs it gets in the detector (no op attributed elsewhere)."""
    model = tiny_rtvpnet
    images = torch.rand(1, 3, SIZE, SIZE)
    txt = model.backbone.forward_text([PROMPTS])
    with torch.no_grad():
        feats = model.forward_features(images, txt)
        encoder = FlopAnalyzer(model.visual_encoder, (images, ))
        head = FlopAnalyzer(model.bbox_head,
                            (feats.img_feats, feats.txt_feats))
        expert = FlopAnalyzer(model.backbone.image_model, (images, ))
        for analyzer in (encoder, head, expert):
            analyzer.unsupported_ops_warnings(False)
            analyzer.uncalled_modules_warnings(False)
        rows = _rows(tiny_report)
        assert rows['visual_encoder'].macs == encoder.total() > 0
        assert rows['bbox_head'].macs == head.total() > 0
        assert rows['backbone.image_model'].macs == expert.total() > 0


def test_params_are_the_numel_sums(tiny_rtvpnet, tiny_report):
    model = tiny_rtvpnet
    assert tiny_report.params == sum(p.numel() for p in model.parameters())
    assert tiny_report.trainable == sum(
        p.numel() for p in model.parameters() if p.requires_grad)
    # the frozen encoder is not trainable, the expert is
    assert tiny_report.trainable < tiny_report.params
    for row in tiny_report.rows:
        module = model.get_submodule(row.name)
        assert row.params == sum(p.numel() for p in module.parameters())
        assert row.trainable == sum(
            p.numel() for p in module.parameters() if p.requires_grad)
    # every parameter is in exactly one row
    assert sum(r.params for r in tiny_report.rows) == tiny_report.params
    assert _rows(tiny_report)['visual_encoder'].trainable == 0


def test_text_encoder_without_tokenizer_is_not_counted(tiny_report):
    row = _rows(tiny_report)['backbone.text_model']
    assert row.macs is None and tiny_report.text_macs is None
    assert 'not traced' in row.note
    text = gf.format_report(tiny_report)
    assert '| backbone.text_model |' in text and '| n/a |' in text


def test_uncalled_train_only_modules_are_listed(tiny_report):
    # EDP's alignment convs (eq. 5), the aux head and TinyViT's unused
    # classification head never run in the test-mode forward
    assert {'domain_projection.phi', 'domain_projection.psi',
            'prompt_aux_head', 'visual_encoder.head'} <= set(
                tiny_report.uncalled)
    assert tiny_report.uncalled['prompt_aux_head'] == _rows(
        tiny_report)['prompt_aux_head'].params


# ----------------------------------------------------------------------
# the CLIP text encoder
# ----------------------------------------------------------------------
def test_clip_text_macs_match_the_formula(tiny_clip_16):
    from mmioc_rtvp.registry import MODELS
    from mmengine.config import ConfigDict
    from mmengine.registry import DefaultScope
    cfg = tiny_yolo_world_cfg(
        embed_dim=16,
        text_model=dict(
            type='HFCLIPTextEncoder', model_name_or_path=tiny_clip_16))
    with DefaultScope.overwrite_default_scope('mmioc_rtvp'):
        model = MODELS.build(ConfigDict(cfg)).eval()
    report = gf.count_model(model, (SIZE, SIZE), PROMPTS, 'tiny')
    encoder = model.backbone.text_model
    config = encoder.model.config
    n = len(PROMPTS)
    length = encoder.tokenizer(
        PROMPTS, padding=True, return_tensors='pt')['input_ids'].shape[1]
    d, ff, layers = (config.hidden_size, config.intermediate_size,
                     config.num_hidden_layers)
    # per token and layer: q, k, v, out projections, the MLP, Q K^T and A V
    # (L keys of d channels each), 2 LayerNorms of 5 per element; the final
    # LayerNorm; then the projection of the N pooled tokens
    per_token = layers * (4 * d * d + 2 * d * ff + 2 * length * d +
                          2 * 5 * d) + 5 * d
    expected = n * length * per_token + n * d * config.projection_dim
    assert report.text_tokens == length
    assert report.text_macs == expected
    row = _rows(report)['backbone.text_model']
    assert row.macs == expected and row.trainable == 0
    text = gf.format_report(report)
    total = report.image_macs + expected
    assert f'| {total / 1e9:.3f} | {2 * total / 1e9:.3f} |' in text


# ----------------------------------------------------------------------
# stand-ins
# ----------------------------------------------------------------------
def test_default_prompts():
    prompts = stand_in_model.default_prompts(64)
    assert len(set(prompts)) == 64
    assert prompts[0] == 'scratch on steel'
    assert 'missing part on steel' in prompts
    with pytest.raises(ValueError, match='--texts must be in'):
        stand_in_model.default_prompts(1000)


def test_stand_in_tokenizer_makes_each_word_one_token():
    words = ['scratch', 'stain', 'in', 'tape', 'aluminum', 'a']
    tokenizer = stand_in_model.make_clip_tokenizer(words)
    assert len(tokenizer) == 49408
    assert (tokenizer.bos_token_id, tokenizer.eos_token_id) == (49406,
                                                                 49407)
    for word in words:
        ids = tokenizer(word)['input_ids']
        assert len(ids) == 3, (word, tokenizer.convert_ids_to_tokens(ids))
    ids = tokenizer('stain in aluminum')['input_ids']
    assert len(ids) == 5
    # other words still encode (byte by byte)
    assert len(tokenizer('zzz')['input_ids']) == 5


def _write_tiny_config(path, text_model, sam_checkpoint, expert_checkpoint):
    cfg = tiny_rtvpnet_cfg(num_test_classes=3)
    cfg['backbone']['text_model'] = text_model
    cfg['visual_encoder'] = dict(TINY_VISUAL_ENCODER,
                                 checkpoint=sam_checkpoint)
    cfg['backbone']['image_model']['init_cfg'] = dict(
        type='Pretrained', checkpoint=expert_checkpoint, prefix='backbone.')
    with open(path, 'w') as f:
        f.write(f"default_scope = 'mmioc_rtvp'\nmodel = {cfg!r}\n")
    return str(path)


def test_cli_with_stand_ins(tmp_path, monkeypatch, capsys):
    """Missing CLIP / SAM / expert files are replaced and said so; the
    printed table is the library's."""
    arch = dict(vocab_size=1024, hidden_size=32, intermediate_size=37,
                num_hidden_layers=1, num_attention_heads=4,
                max_position_embeddings=16, projection_dim=16)
    monkeypatch.setitem(stand_in_model.CLIP_TEXT_ARCHS, 'test/tiny-clip', arch)
    config = _write_tiny_config(
        tmp_path / 'rtvpnet_s_tiny.py',
        dict(type='HFCLIPTextEncoder', model_name_or_path='test/tiny-clip'),
        str(tmp_path / 'no_sam.pt'), str(tmp_path / 'no_expert.pth'))
    assert gf.main([config, '--shape', str(SIZE), '--texts', '4',
                    '--paper']) == 0
    out = capsys.readouterr().out
    assert "'test/tiny-clip' is not available locally" in out
    assert 'no_sam.pt' in out and 'random weights (checkpoint=None)' in out
    assert 'no_expert.pth' in out and 'init_cfg=None' in out
    assert 'prompts: K=4' in out  # --texts over num_test_classes (3)
    assert 'Paper (RTVPNet-S' in out and '76 M params' in out

    # the stand-in CLIP ran: one token per word, plus BOS and EOS
    prompts = stand_in_model.default_prompts(4)
    assert f'L={2 + max(len(p.split()) for p in prompts)} tokens' in out
    table = [line for line in out.splitlines() if line.startswith('|')]
    assert len(table) == 2 + 10 + 2  # header, 10 modules, 2 totals
    assert not any('n/a' in line for line in table)


def test_cli_bad_arguments(tmp_path, capsys):
    assert gf.main([str(tmp_path / 'missing.py')]) == 2
    assert 'does not exist' in capsys.readouterr().err
    assert gf.main([str(tmp_path / 'missing.py'), '--shape', '1', '2',
                    '3']) == 2


def test_script_runs_end_to_end(tmp_path, tiny_clip_16):
    """As a script, on a tiny YOLO-World config with a local tiny CLIP;
    K comes from num_test_classes, set by --cfg-options."""
    cfg = tiny_yolo_world_cfg(
        embed_dim=16,
        text_model=dict(
            type='HFCLIPTextEncoder', model_name_or_path=tiny_clip_16))
    config = tmp_path / 'tiny_yolo_world.py'
    config.write_text(f"default_scope = 'mmioc_rtvp'\nmodel = {cfg!r}\n")
    result = subprocess.run(
        [sys.executable, TOOL, str(config), '--shape', '64',
         '--cfg-options', 'model.num_test_classes=5'],
        capture_output=True, text=True, cwd=str(tmp_path), timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert 'prompts: K=5' in out
    assert 'stand-in' not in out  # the local CLIP was used
    rows = [line.split('|')[1].strip() for line in out.splitlines()
            if line.startswith('| ')]
    assert rows == [
        'module', 'backbone.image_model', 'backbone.text_model', 'neck',
        'bbox_head', '**total, online text (text encoder runs)**',
        '**total without the text encoder (reparameterized)**'
    ]
