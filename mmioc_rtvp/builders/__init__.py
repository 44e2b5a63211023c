# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Offline builders of MMIOC datasets (above :mod:`mmioc_rtvp.format`).

Submodules (imported on demand; none imports torch or OpenMMLab, so the
command line tools start quickly):

- :mod:`~mmioc_rtvp.builders.converters`: YOLO txt, Pascal VOC xml, COCO
  json and MVTec-style masks -> the MMIOC format, with a rejection report
  that accounts for every input box.
- :mod:`~mmioc_rtvp.builders.merge`: many converted sources -> one dataset,
  with stable ids and duplicate-image detection.
- :mod:`~mmioc_rtvp.builders.split`: the closed / open splits.
- :mod:`~mmioc_rtvp.builders.validate`: the full validation report.
- :mod:`~mmioc_rtvp.builders.statistics`: dataset statistics and plots.
- :mod:`~mmioc_rtvp.builders.grounding` and
  :mod:`~mmioc_rtvp.builders.grounding_split`: referring expressions.
- :mod:`~mmioc_rtvp.builders.mmioc_mini`: the synthetic MMIOC-mini dataset
  (needs OpenCV and scikit-image).
"""
