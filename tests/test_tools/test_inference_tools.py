# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""tools/infer.py, tools/image_demo.py, tools/deploy/reparameterize.py and
tools/analysis_tools/calibrate_threshold.py on a tiny RTVPNet."""
import json
import os.path as osp
import shutil

import pytest
import torch

from mmioc_rtvp.apis import (MMIOCInferencer, OKNGThreshold, auroc,
                             binary_metrics, calibrate_threshold)
from tests.test_apis.conftest import (CLASS_PROMPTS, write_api_config,
                                      write_images, write_random_checkpoint)
from tests.utils.scripts import load_script

pytestmark = pytest.mark.usefixtures('one_thread')
NAMES = [p[0] for p in CLASS_PROMPTS]


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp('tools')
    config = write_api_config(str(root))
    ckpt = write_random_checkpoint(config, root / 'tiny.pth')
    images = write_images(root / 'images')
    return config, ckpt, images


def test_infer_cli_writes_coco_results_and_lists_unreadable(
        setup, tmp_path, capsys):
    config, ckpt, images = setup
    tool = load_script('tools/infer.py', 'infer_tool')
    missing = str(tmp_path / 'missing.jpg')
    code = tool.main([
        config, ckpt, osp.join(osp.dirname(images[0]), '*.png'), missing,
        '--texts', 'scratch on metal|a scratched metal plate',
        'hole in wood', '--out-dir', str(tmp_path), '--threshold', '0.0',
        '--no-progress'
    ])
    assert code == 0
    with open(tmp_path / 'predictions.json') as f:
        coco = json.load(f)
    assert [i['file_name'] for i in coco['images']] == images
    assert [c['texts'] for c in coco['categories']] == [CLASS_PROMPTS[0],
                                                        ['hole in wood']]
    assert coco['skipped'] == [dict(input=missing, reason='no such file')]
    assert len(list((tmp_path / 'vis').iterdir())) == 3
    out = capsys.readouterr().out
    assert '3 NG, 0 OK' in out and f'{missing}: no such file' in out


def test_infer_cli_on_a_folder_of_odd_files_reconciles(setup, tmp_path,
                                                       capsys):
    """A folder holding truncated, zero-byte, 16-bit, CMYK, grayscale,
    huge and non-image files: images processed + inputs skipped (each with
    its reason) = files of the folder."""
    from tests.test_apis.odd_images import write_odd_folder
    config, ckpt, _ = setup
    folder = tmp_path / 'odd'
    folder.mkdir()
    files, _ = write_odd_folder(folder)
    tool = load_script('tools/infer.py', 'infer_tool')
    code = tool.main([config, ckpt, str(folder), '--texts', *NAMES[:2],
                      '--out-dir', str(tmp_path / 'out'), '--no-vis',
                      '--no-progress'])
    assert code == 0
    with open(tmp_path / 'out' / 'predictions.json') as f:
        coco = json.load(f)
    good = sorted(n for n, reason in files.items() if reason is None)
    assert sorted(osp.basename(i['file_name'])
                  for i in coco['images']) == good
    skipped = {osp.basename(s['input']): s['reason']
               for s in coco['skipped']}
    assert len(coco['images']) + len(skipped) == len(files)
    for name, reason in files.items():
        if reason is not None:
            assert reason in skipped[name], (name, skipped.get(name))
    out = capsys.readouterr().out
    assert (f'infer: {len(good)} image(s) processed, '
            f'{len(files) - len(good)} input(s) skipped') in out
    assert f"{folder / 'huge.png'}: 400000000 pixels is over" in out


def test_infer_cli_loader_workers_change_nothing(setup, tmp_path, capsys):
    """``--workers 2`` (batches of 2): the predictions.json of
    ``--workers 0``, corrupt files of the folder still reported."""
    from tests.test_apis.odd_images import write_odd_folder
    config, ckpt, images = setup
    folder = tmp_path / 'odd'
    folder.mkdir()
    files, _ = write_odd_folder(folder)
    for path in images:  # real-size images among the odd ones
        shutil.copy(path, folder)
    tool = load_script('tools/infer.py', 'infer_tool')
    results = {}
    for workers in ('0', '2'):
        out_dir = tmp_path / f'out{workers}'
        assert tool.main([config, ckpt, str(folder), '--texts', *NAMES[:2],
                          '--batch-size', '2', '--workers', workers,
                          '--out-dir', str(out_dir), '--no-vis',
                          '--no-progress']) == 0
        results[workers] = (out_dir / 'predictions.json').read_text()
        printed = capsys.readouterr().out
        coco = json.loads(results[workers])
        assert len(coco['images']) + len(coco['skipped']) == \
            len(files) + len(images)
        assert f"{folder / 'truncated.jpg'}: " in printed
        assert f"{folder / 'fake.jpg'}: " in printed
    assert results['0'] == results['2']
    assert tool.main([config, ckpt, str(folder), '--workers', '-1']) == 2


def test_image_demo_keeps_its_cli(setup, tmp_path, capsys):
    config, ckpt, images = setup
    tool = load_script('tools/image_demo.py', 'image_demo_tool')
    out_file = tmp_path / 'pred.jpg'
    tool.main([config, ckpt, images[0], '--texts', *NAMES[:2], '--out',
               str(out_file), '--score-thr', '0.0'])
    assert out_file.stat().st_size > 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith('image_demo: ') and str(out_file) in lines[0]
    count = int(lines[0].split()[1])
    assert count == len(lines) - 1 > 0


def test_reparameterize_cli(setup, tmp_path, capsys):
    config, ckpt, _ = setup
    class_text = tmp_path / 'classes.txt'
    class_text.write_text('hole in wood\nstain on brick | a stained brick\n')
    tool = load_script('tools/deploy/reparameterize.py', 'reparam_tool')
    out = tmp_path / 'baked.pth'
    assert tool.main([config, ckpt, '--class-text', str(class_text),
                      '--out', str(out)]) == 0
    baked = torch.load(out, weights_only=True)
    assert baked['baked_vocabulary']['prompts'] == [
        ['hole in wood'], ['stain on brick', 'a stained brick']
    ]
    assert tuple(baked['baked_vocabulary']['text_feats'].shape) == (2, 16)
    assert '2 classes (D=16) baked into' in capsys.readouterr().out


def test_calibrate_threshold_cli(setup, tmp_path, capsys):
    config, ckpt, images = setup
    weights = tmp_path / 'model.pth'
    shutil.copy(ckpt, weights)
    img_dir = osp.dirname(images[0])
    coco = dict(
        images=[dict(id=i + 1, file_name=osp.basename(p))
                for i, p in enumerate(images)] +
        [dict(id=9, file_name='unreadable.png')],
        annotations=[dict(id=1, image_id=1, category_id=1,
                          bbox=[1, 1, 4, 4]),
                     dict(id=2, image_id=3, category_id=2,
                          bbox=[1, 1, 4, 4])],
        categories=[dict(id=1, name=NAMES[0], texts=CLASS_PROMPTS[0]),
                    dict(id=2, name=NAMES[1])])
    ann_file = tmp_path / 'val.json'
    ann_file.write_text(json.dumps(coco))
    tool = load_script('tools/analysis_tools/calibrate_threshold.py',
                       'calibrate_tool')
    assert tool.main([config, str(weights), '--ann-file', str(ann_file),
                      '--img-dir', img_dir]) == 0
    result = OKNGThreshold.load(str(tmp_path / 'model.okng.json'))

    # the same figures computed here from the inferencer's scores
    inferencer = MMIOCInferencer(model=config, weights=str(weights),
                                 device='cpu', show_progress=False)
    out = inferencer(images, texts=[CLASS_PROMPTS[0], [NAMES[1]]])
    scores = [p['defect_score'] for p in out['predictions']]
    labels = [True, False, True]
    expected = calibrate_threshold(scores, labels, 'f1')
    assert result.threshold == pytest.approx(expected)
    metrics = binary_metrics(scores, labels, expected)
    for key in ('precision', 'recall', 'f1', 'tp', 'fp'):
        assert result.metrics[key] == pytest.approx(metrics[key])
    assert result.metrics['auroc'] == pytest.approx(auroc(scores, labels))
    assert result.vocabulary == [CLASS_PROMPTS[0], [NAMES[1]]]
    assert result.source['num_images'] == 4
    assert result.source['num_skipped'] == 1
    report = capsys.readouterr().out
    assert '4 images' in report and '3 scored (2 defective, 1 ' \
        'defect-free), 1 unreadable' in report
    # the inferencer now reads the threshold next to the checkpoint
    assert MMIOCInferencer(model=config, weights=str(weights),
                           device='cpu').ok_ng.threshold == result.threshold
