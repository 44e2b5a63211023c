# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Converters from public defect-dataset formats to the MMIOC format.

Each converter scans one source format; :class:`BaseConverter` does the
rest (image probing, box checks, rejection report, output). Nothing here
imports torch, mmengine, mmdet or mmyolo.
"""
from .base_converter import BaseConverter, MaskSource, SourceBox, SourceImage
from .class_mapping import CategorySpec, ClassMapping, MappingError
from .coco_converter import COCOConverter
from .conversion_report import BOX_REASONS, IMAGE_REASONS, ConversionReport
from .image_io import ImageError, ImageProbe, hash_file, probe_image
from .mvtec_converter import MVTecConverter
from .voc_converter import VOCConverter
from .yolo_converter import YOLOConverter, read_class_names

__all__ = [
    'BaseConverter', 'SourceBox', 'SourceImage', 'MaskSource', 'CategorySpec',
    'ClassMapping', 'MappingError', 'ConversionReport', 'BOX_REASONS',
    'IMAGE_REASONS', 'ImageError', 'ImageProbe', 'probe_image', 'hash_file',
    'YOLOConverter', 'VOCConverter', 'COCOConverter', 'MVTecConverter',
    'read_class_names'
]
