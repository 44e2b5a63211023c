# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The MMIOC format: the lowest room of the package.

What training, the builders and the tools agree on about the files on disk:

- :mod:`~mmioc_rtvp.format.io`: reading and writing annotation files, and
  the format's one annotation-array type (:class:`~mmioc_rtvp.format.io.
  AnnotationArrays`; ``from_dict`` makes the file-order arrays of a parsed
  file).
- :mod:`~mmioc_rtvp.format.compact_annotations`: the chunked reader that
  makes the compact per-image arrays (the same type) the datasets keep in
  memory.
- :mod:`~mmioc_rtvp.format.splits`: the split names and which vocabulary file
  goes with which annotation file.
- :mod:`~mmioc_rtvp.format.taxonomy`: the supercategory / scene hierarchy.
- :mod:`~mmioc_rtvp.format.file_io`: atomic JSON writing and path helpers.

It imports numpy (and orjson when installed) only: nothing of torch or
OpenMMLab, and nothing from the rest of the package.
"""
