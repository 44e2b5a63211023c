# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Image-level OK/NG metrics and threshold calibration, by hand."""
import json

import pytest

from mmioc_rtvp.apis.ok_ng import (OKNGThreshold, auroc, binary_metrics,
                                   calibrate_threshold,
                                   default_threshold_file,
                                   image_defect_score, verdict)

# 6 images: 3 defective (True), 3 defect-free
SCORES = [0.9, 0.8, 0.8, 0.4, 0.3, 0.0]
LABELS = [True, False, True, True, False, False]


def test_defect_score_and_verdict():
    assert image_defect_score([]) == 0.0
    assert image_defect_score([0.2, 0.7, 0.1]) == 0.7
    assert verdict(0.5, 0.5) == 'NG' and verdict(0.49, 0.5) == 'OK'


def test_binary_metrics_by_hand():
    # NG iff score >= 0.8: images 0, 1, 2 -> tp 2 (0, 2), fp 1 (1),
    # fn 1 (3), tn 2 (4, 5)
    m = binary_metrics(SCORES, LABELS, 0.8)
    assert (m['tp'], m['fp'], m['fn'], m['tn']) == (2, 1, 1, 2)
    assert m['precision'] == pytest.approx(2 / 3)
    assert m['recall'] == pytest.approx(2 / 3)
    assert m['f1'] == pytest.approx(2 / 3)
    assert m['accuracy'] == pytest.approx(4 / 6)
    # nothing predicted NG: precision 0 by convention, recall 0
    m = binary_metrics(SCORES, LABELS, 1.0)
    assert (m['precision'], m['recall'], m['f1']) == (0.0, 0.0, 0.0)


def test_auroc_by_hand_with_ties():
    # positive scores {0.9, 0.8, 0.4}, negative {0.8, 0.3, 0.0}: of the 9
    # pairs, 0.9 beats all 3; 0.8 ties 0.8 (1/2) and beats 2; 0.4 beats 2
    assert auroc(SCORES, LABELS) == pytest.approx((3 + 2.5 + 2) / 9)
    assert auroc([0.1, 0.9], [False, True]) == 1.0
    assert auroc([0.5, 0.5], [False, True]) == 0.5
    assert auroc([0.1, 0.9], [True, True]) is None


def test_f1_max_threshold_by_hand():
    # thresholds 0.9 / 0.8 / 0.4 / 0.3 / 0.0 give F1 = 1/2, 2/3, 6/7,
    # 3/4, 2/3 (tp, fp = 1,0 / 2,1 / 3,1 / 3,2 / 3,3): 0.4 wins
    assert calibrate_threshold(SCORES, LABELS, 'f1') == 0.4
    # ties go to the highest threshold (fewest false alarms): F1 is 2/3 at
    # 0.9 (P 1, R 1/2) and at 0.1 (P 1/2, R 1), 1/2 at 0.5, 2/5 at 0.4
    assert calibrate_threshold([0.9, 0.5, 0.4, 0.1],
                               [True, False, False, True], 'f1') == 0.9


def test_target_recall_threshold_by_hand():
    # recall 1/3 at 0.9, 2/3 at 0.8, 1 at 0.4
    assert calibrate_threshold(SCORES, LABELS, 'recall', 0.5) == 0.8
    assert calibrate_threshold(SCORES, LABELS, 'recall', 2 / 3) == 0.8
    assert calibrate_threshold(SCORES, LABELS, 'recall', 1.0) == 0.4
    with pytest.raises(ValueError, match='target_recall'):
        calibrate_threshold(SCORES, LABELS, 'recall')
    with pytest.raises(ValueError, match='no defective image'):
        calibrate_threshold([0.1], [False], 'f1')
    with pytest.raises(ValueError, match='unknown calibration method'):
        calibrate_threshold(SCORES, LABELS, 'youden')


def test_threshold_file_round_trip(tmp_path):
    assert default_threshold_file('w/epoch_40.pth') == 'w/epoch_40.okng.json'
    path = str(tmp_path / 'sub' / 't.json')
    OKNGThreshold(threshold=0.4, method='f1', metrics=dict(f1=0.857),
                  vocabulary=[['hole in wood']]).dump(path)
    back = OKNGThreshold.load(path)
    assert back.threshold == 0.4 and back.vocabulary == [['hole in wood']]
    assert back.verdict(0.4) == 'NG'
    with open(path, 'w') as f:
        json.dump(dict(threshold='high'), f)
    with pytest.raises(ValueError, match='finite number'):
        OKNGThreshold.load(path)
    with pytest.raises(FileNotFoundError, match='calibrate_threshold'):
        OKNGThreshold.load(str(tmp_path / 'missing.json'))
