# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Exemplar files: making them (bad references refused one by one), the
model fingerprint, and reading them in the inferencer, tools/infer.py and
OK/NG calibration."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmioc_rtvp.apis import MMIOCInferencer, build_detector
from mmioc_rtvp.apis.exemplar_prompts import make_exemplar_file
from mmioc_rtvp.apis.image_pipeline import (build_file_pipeline,
                                            input_to_original,
                                            prepare_inputs)
from mmioc_rtvp.apis.model_fingerprint import model_fingerprint
from mmioc_rtvp.prompts import PromptEmbeddingsError, load_prompt_embeddings
from mmioc_rtvp.prompts.exemplar_aggregation import l2_normalize
from tests.test_apis.conftest import save_checkpoint, write_images
from tests.utils.scripts import load_script

EXEMPLAR_ENCODER = ("model = dict(exemplar_encoder=dict("
                    "type='ExemplarPromptEncoder', feat_channels=16, "
                    "num_groups=4))\n")
#: image sizes of write_images: (96, 128), (120, 100), (64, 64)
GOOD = [('hole in wood', 0, [10, 10, 40, 30]),
        ('hole in wood', 0, [50, 40, 90, 80]),
        ('hole in wood', 1, [5, 5, 60, 70]), ('pit', 2, [8, 8, 40, 40])]
BAD = [('hole in wood', 1, [0, 0, 200, 50], 'outside the 100x120 image'),
       ('pit', 2, [10, 10, 10, 30], 'zero area'),
       ('dent', 'broken.png', [1, 1, 5, 5], 'cannot be read'),
       ('dent', 'missing.png', [1, 1, 5, 5], 'cannot be read (no such file)')]


def build(config: str, seed: int):
    init_default_scope('mmioc_rtvp')
    torch.manual_seed(seed)
    model, _ = build_detector(Config.fromfile(config), None)
    return model


@pytest.fixture(scope='module')
def files(tiny_config, tmp_path_factory, one_thread):
    root = tmp_path_factory.mktemp('exemplars')
    config = str(root / 'tiny_exemplar.py')
    with open(config, 'w') as f:
        f.write(f'_base_ = {tiny_config!r}\n' + EXEMPLAR_ENCODER)
    ckpts = [
        save_checkpoint(build(config, seed), root / f'seed{seed}.pth')
        for seed in (0, 1)
    ]
    images = write_images(root / 'refs')
    (root / 'refs' / 'broken.png').write_text('not an image')
    records = [{
        'class': c,
        'image': f'refs/img_{i}.png' if isinstance(i, int) else f'refs/{i}',
        'box': b
    } for c, i, b, *_ in GOOD + BAD]
    records.append({'class': 'crack'})  # no image, no box
    refs = str(root / 'refs.json')
    with open(refs, 'w') as f:
        json.dump(records, f)
    model, _ = build_detector(Config.fromfile(config), ckpts[0])
    report = make_exemplar_file(model, refs, str(root / 'exemplars.npz'))
    other = build(config, 1)
    other_file = str(root / 'other.npz')
    assert make_exemplar_file(other, refs, other_file).written == 4
    return dict(root=root, config=config, ckpt=ckpts[0], other=ckpts[1],
                images=images, refs=refs, report=report, model=model,
                file=str(root / 'exemplars.npz'), other_file=other_file)


def test_bad_references_are_refused_one_line_each(files):
    report = files['report']
    assert (report.given, report.written, len(report.refused)) == (9, 4, 5)
    refs = files['refs']
    for i, (_, _, _, reason) in enumerate(BAD, start=4):
        line = [r for r in report.refused if f'record {i}:' in r]
        assert len(line) == 1 and refs in line[0] and reason in line[0], (
            i, report.refused)
        assert '\n' not in line[0]
    assert any('record 8: "image" must be a path' in r
               for r in report.refused)
    assert report.classes_without_exemplar == ['dent']
    lines = report.lines()
    assert "class 'dent': no exemplar" in '\n'.join(lines)
    assert lines[-1] == '4 exemplar(s) written, 5 refused, of 9 given'


def test_the_file_holds_the_boxes_encoded_through_the_test_pipeline(files):
    model = files['model']
    prompts = load_prompt_embeddings(files['file'], model_fingerprint(model),
                                     16)
    assert [r.class_name for r in prompts.records] == [g[0] for g in GOOD]
    assert [list(r.box) for r in prompts.records] == [g[2] for g in GOOD]
    assert prompts.records[0].source == osp.join(str(files['root']), 'refs',
                                                 'img_0.png')
    assert np.allclose(np.linalg.norm(prompts.embeddings, axis=1), 1,
                       atol=1e-5)
    # independently: the file pipeline and the letterbox's affine map
    for image, rows in ((0, [0, 1]), (1, [2]), (2, [3])):
        inputs, meta = prepare_inputs(model, build_file_pipeline(model.cfg),
                                      files['images'][image])
        sx, sy, left, top = input_to_original(meta)
        boxes = torch.tensor([GOOD[r][2] for r in rows], dtype=torch.float32)
        boxes = boxes * torch.tensor([sx, sy, sx, sy]) + torch.tensor(
            [left, top, left, top])
        with torch.no_grad():
            expected = model.encode_exemplars(inputs, [boxes]).numpy()
        assert np.allclose(prompts.embeddings[rows], expected, atol=1e-5)


def test_fingerprint_names_the_weights(files):
    model = files['model']
    fp = model_fingerprint(model)
    assert fp.startswith('sha256:') and len(fp) == 7 + 64
    # a vocabulary set on the model is not part of it
    model.set_class_embeddings(torch.eye(16)[:2], ['a', 'b'])
    assert model_fingerprint(model) == fp
    assert model_fingerprint(build(files['config'], 1)) != fp
    with torch.no_grad():
        param = next(model.exemplar_encoder.parameters())
        param.view(-1)[0] += 1e-3
        assert model_fingerprint(model) != fp
        param.view(-1)[0] -= 1e-3
    assert model_fingerprint(model) == fp


def test_inferencer_mixes_text_exemplar_and_fused_classes(files):
    texts = [['scratch on metal', 'a scratched metal plate'],
             ['hole in wood']]
    plain = MMIOCInferencer(files['config'], files['ckpt'], texts=texts,
                            show_progress=False)
    text_feats = plain.text_feats[0].numpy()
    mixed = MMIOCInferencer(files['config'], files['ckpt'], texts=texts,
                            exemplars=files['file'], show_progress=False)
    assert mixed.classes == ['scratch on metal', 'hole in wood', 'pit']
    assert [r.use for r in mixed.mixed.reports] == [
        'text', 'both', 'exemplars']
    rows = load_prompt_embeddings(files['file']).embeddings
    feats = mixed.text_feats[0].numpy()
    assert np.allclose(feats[0], text_feats[0], atol=1e-6)
    hole = l2_normalize(rows[:3].mean(0))  # 3 exemplars, no outlier here
    assert np.allclose(feats[1], l2_normalize(text_feats[1] + hole),
                       atol=1e-5)
    assert np.allclose(feats[2], rows[3], atol=1e-6)
    out = mixed(files['images'])
    assert out['classes'] == mixed.classes
    assert all(0 <= label < 3 for p in out['predictions']
               for label in p['labels'])
    # one side only; a class of the file alone follows the text classes
    only_text = MMIOCInferencer(files['config'], files['ckpt'], texts=texts,
                                exemplars=files['file'], exemplar_use='text',
                                show_progress=False)
    assert np.allclose(only_text.text_feats[0, :2].numpy(), text_feats,
                       atol=1e-6)
    assert mixed.set_vocabulary(['crack in wood']).names == [
        'crack in wood', 'hole in wood', 'pit']


def test_inferencer_refuses_what_it_cannot_use(files):
    with pytest.raises(PromptEmbeddingsError) as err:
        MMIOCInferencer(files['config'], files['ckpt'],
                        exemplars=files['other_file'], show_progress=False)
    assert files['other_file'] in str(err.value)
    assert 'another model' in str(err.value)
    with pytest.raises(ValueError, match="'pit' is to use text but has no "
                       'prompt'):
        MMIOCInferencer(files['config'], files['ckpt'],
                        exemplars=files['file'], class_use={'pit': 'text'},
                        show_progress=False)
    with pytest.raises(ValueError, match="'stain on brick' is to use "
                       'exemplars but has none'):
        MMIOCInferencer(files['config'], files['ckpt'],
                        texts=['stain on brick'], exemplars=files['file'],
                        class_use={'stain on brick': 'exemplars'},
                        show_progress=False)


def test_make_exemplars_and_infer_tools(files, tmp_path, capsys):
    make = load_script('tools/make_exemplars.py', 'make_exemplars_test')
    out = str(tmp_path / 'ex.npz')
    assert make.main([files['config'], files['ckpt'], '--refs',
                      files['refs'], '--out', out]) == 0
    printed = capsys.readouterr().out
    assert 'make_exemplars: 4 exemplar(s) written, 5 refused, of 9 given' \
        in printed
    assert "class 'hole in wood': exemplar, 3 of 3 exemplar(s) used" \
        in printed
    # appending to a file of another model is refused before any work
    assert make.main([files['config'], files['ckpt'], '--refs',
                      files['refs'], '--out', files['other_file'],
                      '--append']) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'another model' in err
    assert len(load_prompt_embeddings(files['other_file'])) == 4

    infer = load_script('tools/infer.py', 'infer_exemplars_test')
    args = [files['config'], files['ckpt'], files['images'][0],
            '--texts', 'hole in wood', '--out-dir', str(tmp_path / 'o'),
            '--no-vis', '--no-progress']
    assert infer.main(args + ['--exemplars', out, '--class-use',
                              'hole in wood=exemplars']) == 0
    assert "classes ['hole in wood', 'pit']" in capsys.readouterr().out
    assert infer.main(args + ['--exemplars', files['other_file']]) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'another model' in err
    assert infer.main(args + ['--exemplars', out, '--class-use',
                              'pit']) == 2


def test_calibration_records_the_exemplar_classes(files, tmp_path):
    images = files['images']
    coco = dict(
        images=[dict(id=i, file_name=osp.basename(p), height=1, width=1)
                for i, p in enumerate(images)],
        annotations=[dict(id=1, image_id=0, category_id=1,
                          bbox=[10, 10, 30, 20])],
        categories=[dict(id=1, name='hole in wood')])
    ann = str(tmp_path / 'val.json')
    with open(ann, 'w') as f:
        json.dump(coco, f)
    calibrate = load_script('tools/analysis_tools/calibrate_threshold.py',
                            'calibrate_exemplars_test')
    out = str(tmp_path / 't.okng.json')
    assert calibrate.main([
        files['config'], files['ckpt'], '--ann-file', ann, '--img-dir',
        osp.dirname(images[0]), '--exemplars', files['file'], '--out', out
    ]) == 0
    with open(out) as f:
        saved = json.load(f)
    assert saved['exemplars'] == {'hole in wood': 'both', 'pit': 'exemplars'}
    assert saved['vocabulary'] == [['hole in wood'], ['pit']]
