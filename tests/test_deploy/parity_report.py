# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Print the figures behind tests/test_deploy/test_onnx_parity.py.

The same models, input, vocabularies and matching as the test (whose
assertions stay the check); prints per model and vocabulary the number of
detections and the largest deviations of the matched pairs::

    OMP_NUM_THREADS=1 python -m tests.test_deploy.parity_report
"""
import tempfile

import torch

from mmioc_rtvp.deploy import (ExportableDetector, ORTDetector,
                               build_metadata, export_onnx)
from tests.test_deploy.test_onnx_parity import (CONFIGS, IMG_META, SIZE,
                                                VOCAB_A, VOCAB_B,
                                                assert_same_detections,
                                                build_mini, eager_predict)


def main() -> None:
    """Export each mini model once and compare eager and ONNX Runtime."""
    image = torch.rand(1, 3, SIZE, SIZE,
                       generator=torch.Generator().manual_seed(1))
    print('| model | vocabulary | detections (eager = ORT) | '
          'max relative box diff | max score diff |')
    print('|---|---|---:|---:|---:|')
    with tempfile.TemporaryDirectory() as work:
        for name in CONFIGS:
            model = build_mini(name)
            exportable = ExportableDetector(
                model, runtime_vocabulary=name != 'yolov8')
            path = export_onnx(exportable, f'{work}/{name}.onnx',
                               (SIZE, SIZE),
                               build_metadata(exportable, (SIZE, SIZE)))
            det = ORTDetector(path, num_threads=1)
            vocabs = [None] if name == 'yolov8' else [VOCAB_A, VOCAB_B]
            for vocab in vocabs:
                eager = eager_predict(model, image, vocab)
                feats = None if vocab is None else model.text_feats.numpy()
                box, score = assert_same_detections(
                    eager, det.predict(image.numpy(), feats, IMG_META))
                what = ('fixed classes' if vocab is None else
                        f'K = {len(vocab)}')
                print(f'| {name} | {what} | {len(eager)} | {box:.1e} | '
                      f'{score:.1e} |')


if __name__ == '__main__':
    main()
