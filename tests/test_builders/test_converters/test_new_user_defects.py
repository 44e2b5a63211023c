# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The converter defects found by trying the tools as a new user would: each
used to give a wrong dataset with exit status 0."""
import json
import os
import os.path as osp

import cv2
import numpy as np
from PIL import Image

from mmioc_rtvp.datasets.transforms import LoadImageFromFile
from mmioc_rtvp.builders.converters import (COCOConverter, MVTecConverter,
                                           VOCConverter, YOLOConverter)
from tests.test_builders.test_converters.builders import (
    boxes_by_image, check_reconciled, load_tool, read_outputs, save_image,
    write_mapping, write_text)

TWO_BOXES = '0 0.25 0.5 0.2 0.2\n1 0.75 0.5 0.2 0.2\n'


def yolo_root(root, stems=('0000', '0001', '0002')):
    """Ultralytics layout: images/<stem>.jpg + labels/<stem>.txt, 2 boxes
    each."""
    write_text(osp.join(root, 'classes.txt'), 'scratch\nhole\n')
    for i, stem in enumerate(stems):
        save_image(osp.join(root, 'images', f'{stem}.jpg'), 100, 50, seed=i)
        write_text(osp.join(root, 'labels', f'{stem}.txt'), TWO_BOXES)
    return root


def run_yolo(tmp_path, args, name='y'):
    out = str(tmp_path / 'out')
    status = load_tool('yolo2mmioc').main([
        *args, '--mapping',
        write_mapping(str(tmp_path / 'm.json')), '--out', out, '--name', name,
        '--no-progress'
    ])
    return status, out


def test_yolo_labels_without_images_option_finds_the_labels(
        tmp_path, capsys):
    """``yolo2mmioc.py ROOT --labels ROOT/labels`` (no ``--images``): the
    images are under ROOT/images, the label of images/0000.jpg is
    labels/0000.txt. Before: 3 defect-free images, 0 of 6 boxes, a false
    'has no image' for every label file, exit 0."""
    root = yolo_root(str(tmp_path / 'src'))
    status, out = run_yolo(tmp_path,
                           [root, '--labels',
                            osp.join(root, 'labels')])
    printed = capsys.readouterr().out
    assert status == 0
    ann, rep = read_outputs(out, 'y')
    check_reconciled(rep, ann)
    assert rep['summary']['converted_boxes'] == 6
    assert rep['summary']['defect_free_images'] == 0
    assert rep['rejected_images'] == [] and rep['rejections'] == []
    assert 'WARNING' not in printed
    assert sorted(boxes_by_image(ann)) == ['0000.jpg', '0001.jpg', '0002.jpg']


def test_yolo_orphan_label_message_names_the_lookup(tmp_path):
    """A label file whose image is not where the rule looks: the detail
    says where it looked, and names the same-named image and where that
    image's label was looked up."""
    root = yolo_root(str(tmp_path / 'src'), stems=('0000', ))
    os.makedirs(osp.join(root, 'labels', 'sub'))
    os.rename(
        osp.join(root, 'labels', '0000.txt'),
        osp.join(root, 'labels', 'sub', '0000.txt'))
    converter = YOLOConverter(
        root,
        images_dir=osp.join(root, 'images'),
        labels_dir=osp.join(root, 'labels'),
        mapping=write_mapping(str(tmp_path / 'm.json')),
        out_dir=str(tmp_path / 'out'),
        name='y')
    report = converter.convert()
    [orphan] = report.rejected_images
    assert orphan['reason'] == 'missing_image'
    assert orphan['detail'].startswith(
        'label file labels/sub/0000.txt has no image (looked for '
        'images/sub/0000.*)')
    assert 'image images/0000.jpg has its name, but its label was looked ' \
        'up at labels/0000.txt' in orphan['detail']


def test_yolo_no_label_file_at_all_is_a_loud_warning(tmp_path, capsys):
    root = yolo_root(str(tmp_path / 'src'))
    empty = str(tmp_path / 'src' / 'nolabels')
    os.makedirs(empty)
    status, out = run_yolo(tmp_path, [root, '--labels', empty])
    printed = capsys.readouterr().out
    assert status == 0  # defect-free sources are legitimate...
    ann, rep = read_outputs(out, 'y')
    # ...but the user is told, in the summary and in the report
    [warning] = rep['warnings']
    assert warning.startswith(
        'no label file was found for any of the 3 images (looked up as '
        'nolabels/<image path relative to .>.txt)')
    assert f'WARNING: {warning}' in printed
    # and the label files that exist are reported, not silently ignored
    assert rep['summary']['defect_free_images'] == 3


def test_coco_annotation_of_an_unknown_image_id_has_its_own_reason(
        tmp_path):
    root = str(tmp_path / 'src')
    save_image(osp.join(root, 'a.png'), 100, 50)
    ann_file = osp.join(root, 'coco.json')
    with open(ann_file, 'w') as f:
        json.dump(
            dict(
                images=[dict(id=1, file_name='a.png', width=100,
                             height=50)],
                annotations=[
                    dict(id=1, image_id=1, category_id=1,
                         bbox=[1, 1, 5, 5]),
                    dict(id=2, image_id=7, category_id=1, bbox=[1, 1, 5, 5])
                ],
                categories=[dict(id=1, name='scratch')]), f)
    report = COCOConverter(
        ann_file,
        img_dir=root,
        mapping=write_mapping(str(tmp_path / 'm.json')),
        out_dir=str(tmp_path / 'out'),
        name='c').convert()
    [rejection] = report.rejections
    assert rejection['reason'] == 'unknown_image_id'
    assert rejection['detail'] == "image id 7 is not in 'images'"
    assert report.summary()['rejected_boxes_by_reason'] == {
        'unknown_image_id': 1
    }


def test_two_sources_into_one_out_do_not_overwrite(tmp_path, capsys):
    """Source B has an image named as one of source A's, with other pixels:
    converting B into A's --out is refused, A's image stays."""
    a = yolo_root(str(tmp_path / 'a'), stems=('0000', ))
    b = yolo_root(str(tmp_path / 'b'), stems=('0000', ))
    save_image(osp.join(b, 'images', '0000.jpg'), 100, 50, seed=7)
    status, out = run_yolo(tmp_path, [a], name='a')
    assert status == 0
    placed = osp.join(out, 'images', '0000.jpg')
    with open(placed, 'rb') as f:
        before = f.read()
    capsys.readouterr()
    status, _ = run_yolo(tmp_path, [b], name='b')
    err = capsys.readouterr().err
    assert status == 2
    assert ("1 output image(s) would replace images of another dataset "
            f"converted into {out}, e.g. images/0000.jpg of 'a'") in err
    with open(placed, 'rb') as f:
        assert f.read() == before
    assert not osp.exists(osp.join(out, 'annotations', 'b.json'))
    # re-running A itself is allowed
    assert run_yolo(tmp_path, [a], name='a')[0] == 0


def test_mvtec_bmp_and_tif_masks(tmp_path):
    """KolektorSDD-style masks: .bmp (and .tif), named <stem>_label."""
    root = str(tmp_path / 'kolektor')
    cat = osp.join(root, 'bottle')
    for stem, ext in (('000', '.bmp'), ('001', '.tif')):
        save_image(osp.join(cat, 'test', 'broken', f'{stem}.jpg'), 60, 40)
        mask = np.zeros((40, 60), np.uint8)
        mask[5:10, 10:20] = 255
        path = osp.join(cat, 'ground_truth', 'broken',
                        f'{stem}_label{ext}')
        os.makedirs(osp.dirname(path), exist_ok=True)
        Image.fromarray(mask).save(path)
    out = str(tmp_path / 'out')
    MVTecConverter(
        root,
        mask_suffix='_label',
        mapping=write_mapping(
            str(tmp_path / 'm.json'),
            classes={
                'bottle/broken':
                dict(
                    supercategory='plastic',
                    scene='bottle',
                    name='broken bottle',
                    texts=['broken bottle'])
            }),
        out_dir=out,
        name='k').convert()
    ann, rep = read_outputs(out, 'k')
    check_reconciled(rep, ann)
    assert boxes_by_image(ann) == {
        f'bottle/test/broken/{stem}.jpg':
        [('broken bottle', [10.0, 5.0, 10.0, 5.0])]
        for stem in ('000', '001')
    }


def voc_set(root, stem):
    save_image(osp.join(root, 'JPEGImages', f'{stem}.jpg'), 100, 50)
    write_text(
        osp.join(root, 'Annotations', f'{stem}.xml'),
        f'<annotation><filename>{stem}.jpg</filename><object><name>scratch'
        '</name><bndbox><xmin>11</xmin><ymin>6</ymin><xmax>30</xmax>'
        '<ymax>15</ymax></bndbox></object></annotation>')


def test_voc_recursive_sets_in_sub_folders(tmp_path, capsys):
    root = str(tmp_path / 'voc')
    voc_set(osp.join(root, 'line1'), 'a')
    voc_set(osp.join(root, 'line2', 'cam0'), 'a')  # same stem, other set
    tool = load_tool('voc2mmioc')
    args = [
        root, '--mapping',
        write_mapping(str(tmp_path / 'm.json')), '--out',
        str(tmp_path / 'out'), '--name', 'v', '--no-progress'
    ]
    # without --recursive: a clear error that says what to do
    assert tool.main(args) == 2
    assert 'use --recursive' in capsys.readouterr().err
    assert tool.main(args + ['--recursive']) == 0
    ann, rep = read_outputs(str(tmp_path / 'out'), 'v')
    check_reconciled(rep, ann)
    assert boxes_by_image(ann) == {
        name: [('scratch on steel', [10.0, 5.0, 20.0, 10.0])]
        for name in ('line1/a.jpg', 'line2/cam0/a.jpg')
    }
    assert rep['source']['sets'] == ['line1', 'line2/cam0']
    # the rule of the non-recursive converter is unchanged
    assert VOCConverter(
        osp.join(root, 'line1'),
        mapping=write_mapping(str(tmp_path / 'm.json')),
        out_dir=str(tmp_path / 'out1'),
        name='one').convert().converted_boxes == 1


def test_exif_rotated_jpeg_converter_and_loader_agree(tmp_path):
    """A JPEG stored 100 x 50 with EXIF orientation 6 and a YOLO box on a
    white patch of the stored pixels: the converter writes the stored size
    and box, and the training loader loads the stored layout, so the box
    covers the patch in what training sees."""
    root = str(tmp_path / 'src')
    write_text(osp.join(root, 'classes.txt'), 'scratch\n')
    stored = np.full((50, 100, 3), 40, np.uint8)
    stored[10:20, 60:80] = 255  # x 60..79, y 10..19
    exif = Image.Exif()
    exif[0x0112] = 6
    image_path = osp.join(root, 'images', 'r.jpg')
    os.makedirs(osp.dirname(image_path))
    Image.fromarray(stored).save(image_path, exif=exif, quality=95)
    write_text(osp.join(root, 'labels', 'r.txt'), '0 0.7 0.3 0.2 0.2\n')
    out = str(tmp_path / 'out')
    report = YOLOConverter(
        root,
        mapping=write_mapping(str(tmp_path / 'm.json')),
        out_dir=out,
        name='r').convert()
    assert report.exif_rotated == ['images/r.jpg']
    assert any('EXIF-rotated' in n for n in report.notes)
    ann, _ = read_outputs(out, 'r')
    [record] = ann['images']
    [box] = ann['annotations']
    assert (record['width'], record['height']) == (100, 50)
    assert box['bbox'] == [60.0, 10.0, 20.0, 10.0]
    loaded = LoadImageFromFile()(
        dict(img_path=osp.join(out, 'images', record['file_name'])))['img']
    assert loaded.shape[:2] == (record['height'], record['width'])
    x, y, w, h = (int(v) for v in box['bbox'])
    assert loaded[y:y + h, x:x + w].min() > 200
    # OpenCV's default (MMCV's 'color') would have rotated the pixels
    rotated = cv2.imread(osp.join(out, 'images', record['file_name']))
    assert rotated.shape[:2] == (100, 50)
