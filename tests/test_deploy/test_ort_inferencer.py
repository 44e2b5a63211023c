# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""ORTInferencer (``tools/infer.py --backend onnxruntime``) gives the
PyTorch inferencer's predictions, vocabulary changes included."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

from mmioc_rtvp.apis import MMIOCInferencer
from mmioc_rtvp.deploy import ExportableDetector, build_metadata, export_onnx
from mmioc_rtvp.deploy.ort_inferencer import ORTInferencer
from tests.test_deploy.test_onnx_parity import (CONFIGS, REPO_ROOT, VOCAB_A,
                                                VOCAB_B,
                                                assert_same_detections,
                                                build_mini)
from tests.test_deploy.test_ort_batch import CountingSession
from tests.utils.scripts import load_script

SIZE = 320  # the config's test pipeline letterboxes to 320 x 320


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """A checkpoint of a mini YOLO-World with detections, its run-time
    vocabulary (batch 1 and dynamic batch) and baked (VOCAB_A) exports, and
    two BGR images."""
    root = tmp_path_factory.mktemp('ort_inferencer')
    # the open configs test on a ConcatDataset (unseen + generalized
    # vocabularies) whose pipeline MMIOCInferencer does not look into; the
    # validation loader has the same test pipeline on one dataset
    cfg = Config.fromfile(osp.join(REPO_ROOT, CONFIGS['yolo_world']))
    cfg.test_dataloader = cfg.val_dataloader
    config = str(root / 'yolo_world_s_open_mini.py')
    cfg.dump(config)
    model = build_mini('yolo_world')
    ckpt = str(root / 'model.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)
    runtime = ExportableDetector(model, runtime_vocabulary=True)
    export_onnx(runtime, str(root / 'runtime.onnx'), (SIZE, SIZE),
                build_metadata(runtime, (SIZE, SIZE)))
    export_onnx(runtime, str(root / 'dynamic.onnx'), (SIZE, SIZE),
                build_metadata(runtime, (SIZE, SIZE)), dynamic_batch=True)
    model.reparameterize([VOCAB_A])
    baked = ExportableDetector(model)
    export_onnx(baked, str(root / 'baked.onnx'), (SIZE, SIZE),
                build_metadata(baked, (SIZE, SIZE), vocabulary=VOCAB_A))
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (240, 300, 3), dtype=np.uint8),
              rng.integers(0, 255, (200, 160, 3), dtype=np.uint8)]
    return dict(config=config, ckpt=ckpt, runtime=str(root / 'runtime.onnx'),
                dynamic=str(root / 'dynamic.onnx'),
                baked=str(root / 'baked.onnx'), images=images)


def assert_same_predictions(eager: list, ort: list) -> None:
    """Per image, the one-to-one match of the parity test (labels equal,
    boxes 1e-3 relative, scores 1e-4; near-equal scores may swap places)."""
    assert len(eager) == len(ort)
    for e, o in zip(eager, ort):
        assert_same_detections(
            InstanceData(bboxes=torch.tensor(e['bboxes']),
                         scores=torch.tensor(e['scores']),
                         labels=torch.tensor(e['labels'])),
            {k: np.asarray(o[k]) for k in ('bboxes', 'scores', 'labels')})


def test_runtime_vocabulary_matches_pytorch(files):
    eager = MMIOCInferencer(files['config'], files['ckpt'],
                            show_progress=False)
    ort = ORTInferencer(files['config'], files['runtime'], files['ckpt'],
                        num_threads=1, show_progress=False)
    for vocab in (VOCAB_A, VOCAB_B):
        e = eager(files['images'], texts=vocab)
        o = ort(files['images'], texts=vocab)
        assert o['classes'] == e['classes'] == vocab
        assert_same_predictions(e['predictions'], o['predictions'])


def test_batches_and_loader_threads_match_image_by_image(files):
    """Batches of 3 (one session call each with a dynamic-batch file) and 2
    loader threads: the predictions of batch 1 without threads."""
    images = files['images'] + files['images'][::-1]
    ort = ORTInferencer(files['config'], files['runtime'], files['ckpt'],
                        num_threads=1, show_progress=False)
    ref = ort(images, texts=VOCAB_A)['predictions']
    dynamic = ORTInferencer(files['config'], files['dynamic'], files['ckpt'],
                            num_threads=1, show_progress=False)
    dynamic.ort.session = CountingSession(dynamic.ort.session)
    out = dynamic(images, texts=VOCAB_A, batch_size=3, num_workers=2)
    assert dynamic.ort.session.batches == [3, 1]
    assert [p['image'] for p in out['predictions']] == [
        p['image'] for p in ref]
    assert_same_predictions(ref, out['predictions'])


def test_baked_file_keeps_its_vocabulary(files):
    ort = ORTInferencer(files['config'], files['baked'], files['ckpt'],
                        num_threads=1, show_progress=False)
    assert ort.classes == VOCAB_A
    out = ort(files['images'][:1])
    assert out['classes'] == VOCAB_A
    eager = MMIOCInferencer(files['config'], files['ckpt'],
                            show_progress=False)
    assert_same_predictions(
        eager(files['images'][:1], texts=VOCAB_A)['predictions'],
        out['predictions'])
    with pytest.raises(ValueError, match='baked vocabulary'):
        ort(files['images'][:1], texts=VOCAB_B)


def test_infer_cli_backend_onnxruntime(files, tmp_path, capsys):
    import cv2
    image = str(tmp_path / 'part.png')
    cv2.imwrite(image, files['images'][0])
    infer = load_script('tools/infer.py', 'infer_under_test')
    assert infer.main([
        files['config'], files['ckpt'], image, '--backend', 'onnxruntime',
        '--onnx', files['runtime'], '--texts', *VOCAB_B, '--out-dir',
        str(tmp_path / 'out'), '--no-vis', '--no-progress'
    ]) == 0
    assert f'classes {VOCAB_B}' in capsys.readouterr().out
    assert osp.isfile(tmp_path / 'out' / 'predictions.json')
    # --onnx is required with the onnxruntime backend
    assert infer.main([files['config'], files['ckpt'], image,
                       '--backend', 'onnxruntime']) == 2
