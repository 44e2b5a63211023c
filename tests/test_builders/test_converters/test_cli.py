# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The converter command lines: summaries and exit statuses."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
from PIL import Image

from tests.test_builders.test_converters.builders import (
    REPO_ROOT, TOOLS_DIR, load_tool, read_outputs, save_image, write_bytes,
    write_mapping, write_text)


def yolo_source(root, image_bytes=None):
    write_text(osp.join(root, 'classes.txt'), 'scratch\nhole\n')
    path = osp.join(root, 'images', 'a.png')
    if image_bytes is None:
        save_image(path, 100, 50)
    else:
        write_bytes(path, image_bytes)
    write_text(
        osp.join(root, 'labels', 'a.txt'),
        '0 0.5 0.5 0.2 0.2\n0 0.95 0.5 0.2 0.2\n0 nan 1 1 1\n')
    return root


def test_yolo_cli_summary_and_status(tmp_path, capsys):
    root = yolo_source(str(tmp_path / 'src'))
    mapping = write_mapping(str(tmp_path / 'm.json'))
    out = str(tmp_path / 'out')
    tool = load_tool('yolo2mmioc')
    status = tool.main([
        root, '--mapping', mapping, '--out', out, '--name', 'y', '--workers',
        '1', '--no-progress'
    ])
    printed = capsys.readouterr().out
    assert status == 0
    assert 'input boxes 3 = converted 2 + rejected 1 (clipped 1)' in printed
    assert 'rejected boxes: nan_value 1' in printed
    with open(
            osp.join(out, 'reports', 'y_summary.txt'), encoding='utf-8') as f:
        assert f.read().strip() == printed.strip()
    ann, _ = read_outputs(out, 'y')
    assert len(ann['annotations']) == 2


def test_invalid_mapping_exits_2(tmp_path, capsys):
    root = yolo_source(str(tmp_path / 'src'))
    mapping = write_mapping(
        str(tmp_path / 'bad.json'),
        classes={
            'scratch':
            dict(
                supercategory='metal',
                scene='moon',
                name='scratch',
                texts=['scratch'])
        })
    tool = load_tool('yolo2mmioc')
    status = tool.main([
        root, '--mapping', mapping, '--out',
        str(tmp_path / 'out'), '--name', 'y', '--no-progress'
    ])
    err = capsys.readouterr().err
    assert status == 2
    assert f"{mapping}: class 'scratch': unknown scene 'moon'" in err
    assert not osp.exists(tmp_path / 'out')


def test_nothing_converted_exits_1(tmp_path, capsys):
    root = yolo_source(str(tmp_path / 'src'), image_bytes=b'garbage')
    tool = load_tool('yolo2mmioc')
    out = str(tmp_path / 'out')
    status = tool.main([
        root, '--mapping',
        write_mapping(str(tmp_path / 'm.json')), '--out', out, '--name', 'y',
        '--no-progress'
    ])
    assert status == 1
    assert 'nothing could be converted' in capsys.readouterr().err
    _, rep = read_outputs(out, 'y')
    assert rep['summary']['rejected_boxes'] == 3


def test_voc_coco_mvtec_clis(tmp_path, capsys):
    mapping = write_mapping(
        str(tmp_path / 'm.json'),
        classes={
            'scratch':
            dict(
                supercategory='metal',
                scene='steel',
                name='scratch on steel',
                texts=['scratch on steel']),
            'bottle/crack':
            dict(
                supercategory='plastic',
                scene='bottle',
                name='crack on bottle',
                texts=['crack on bottle'])
        })
    voc = str(tmp_path / 'voc')
    save_image(osp.join(voc, 'JPEGImages', 'a.jpg'), 100, 50)
    write_text(
        osp.join(voc, 'Annotations', 'a.xml'),
        '<annotation><filename>a.jpg</filename><object><name>scratch</name>'
        '<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>10</xmax><ymax>10</ymax>'
        '</bndbox></object></annotation>')
    coco = str(tmp_path / 'coco')
    save_image(osp.join(coco, 'images', 'a.png'), 100, 50)
    write_text(
        osp.join(coco, 'ann.json'),
        json.dumps(
            dict(
                images=[dict(id=1, file_name='a.png')],
                annotations=[
                    dict(id=1, image_id=1, category_id=1, bbox=[0, 0, 9, 9])
                ],
                categories=[dict(id=1, name='scratch')])))
    mvtec = str(tmp_path / 'bottle')
    save_image(osp.join(mvtec, 'test', 'crack', '0.png'), 16, 16)
    mask = np.zeros((16, 16), np.uint8)
    mask[2:5, 3:9] = 255
    os.makedirs(osp.join(mvtec, 'ground_truth', 'crack'))
    Image.fromarray(mask).save(
        osp.join(mvtec, 'ground_truth', 'crack', '0_mask.png'))
    common = ['--mapping', mapping, '--no-progress']
    runs = [
        ('voc2mmioc', [voc, '--out',
                       str(tmp_path / 'o1'), '--name', 'v']),
        ('coco2mmioc', [
            osp.join(coco, 'ann.json'), '--img-dir',
            osp.join(coco, 'images'), '--out',
            str(tmp_path / 'o2'), '--name', 'c'
        ]),
        ('mvtec2mmioc', [mvtec, '--out',
                         str(tmp_path / 'o3'), '--name', 'm']),
    ]
    expected = {
        'voc2mmioc': [0.0, 0.0, 10.0, 10.0],
        'coco2mmioc': [0.0, 0.0, 9.0, 9.0],
        'mvtec2mmioc': [3.0, 2.0, 6.0, 3.0]
    }
    for k, (tool_name, argv) in enumerate(runs):
        assert load_tool(tool_name).main(argv + common) == 0
        assert ('input boxes 1 = converted 1 + rejected 0 (clipped 0)'
                in capsys.readouterr().out)
        ann, _ = read_outputs(str(tmp_path / f'o{k + 1}'), argv[-1])
        assert ann['annotations'][0]['bbox'] == expected[tool_name]


def test_script_runs_from_the_source_tree(tmp_path):
    root = yolo_source(str(tmp_path / 'src'))
    proc = subprocess.run([
        sys.executable,
        osp.join(TOOLS_DIR, 'yolo2mmioc.py'), root, '--mapping',
        write_mapping(str(tmp_path / 'm.json')), '--out',
        str(tmp_path / 'out'), '--name', 'y', '--no-progress'
    ],
                          capture_output=True,
                          text=True,
                          cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert 'input boxes 3 = converted 2 + rejected 1' in proc.stdout


def test_builders_import_no_heavy_framework():
    """The format and the offline builders import neither torch nor the
    OpenMMLab stack (``mmioc_rtvp/__init__.py`` is replaced by an empty
    package here, to look at their own imports)."""
    code = (
        'import sys, types\n'
        'pkg = types.ModuleType("mmioc_rtvp")\n'
        f'pkg.__path__ = [{osp.join(REPO_ROOT, "mmioc_rtvp")!r}]\n'
        'sys.modules["mmioc_rtvp"] = pkg\n'
        'import mmioc_rtvp.format.io, mmioc_rtvp.format.compact_annotations\n'
        'import mmioc_rtvp.builders.converters.cli\n'
        'import mmioc_rtvp.builders.merge\n'
        'import mmioc_rtvp.builders.split, mmioc_rtvp.builders.validate\n'
        'import mmioc_rtvp.builders.statistics\n'
        'import mmioc_rtvp.builders.grounding_split\n'
        'heavy = [m for m in ("torch", "mmengine", "mmcv", "mmdet", "mmyolo",'
        ' "cv2", "scipy") if m in sys.modules]\n'
        'print(heavy)\n')
    proc = subprocess.run([sys.executable, '-c', code],
                          capture_output=True,
                          text=True,
                          cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == '[]'
