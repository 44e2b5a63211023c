# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import numpy as np
import pytest

from mmioc_rtvp.datasets.transforms import LoadText

CLASS_TEXTS = [['crack on brick', 'a cracked brick'], ['hole in wood'],
               ['scratch on metal', 'a scratched plate', 'metal scratch']]


def test_canonical_prompts_in_class_order():
    labels = np.array([2, 0])
    out = LoadText()(dict(texts=CLASS_TEXTS, gt_bboxes_labels=labels))
    assert out['texts'] == [
        'crack on brick', 'hole in wood', 'scratch on metal'
    ]
    # labels are untouched
    assert out['gt_bboxes_labels'] is labels


def test_prompt_index_uses_last_prompt_when_short():
    out = LoadText(prompt_index=2)(dict(texts=CLASS_TEXTS))
    assert out['texts'] == ['a cracked brick', 'hole in wood', 'metal scratch']


def test_errors():
    with pytest.raises(ValueError, match='prompt_index must be >= 0'):
        LoadText(prompt_index=-1)
    with pytest.raises(ValueError, match="no 'texts'"):
        LoadText()(dict())
    with pytest.raises(ValueError, match='list\\[list\\[str\\]\\]'):
        LoadText()(dict(texts=['flat', 'list']))
