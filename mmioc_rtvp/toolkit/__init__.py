# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Tools to build MMIOC-1M from public defect datasets.

Submodules (imported on demand; nothing here imports torch, mmengine, mmdet
or mmyolo, so that the command line tools start quickly):

- :mod:`~mmioc_rtvp.toolkit.converters`: YOLO txt, Pascal VOC xml, COCO json
  and MVTec-style masks -> the MMIOC format (``docs/dataset_format.md``),
  with a rejection report that accounts for every input box.
- :mod:`~mmioc_rtvp.toolkit.taxonomy`: the supercategory / scene hierarchy.
- :mod:`~mmioc_rtvp.toolkit.merge`: many converted sources -> one dataset,
  with stable ids and duplicate-image detection.

Note that importing any submodule first runs ``mmioc_rtvp/__init__.py``.
"""
