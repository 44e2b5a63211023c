# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Every public name stays importable from the module users import it from.

The table below is the public surface of the modules as they stood before
the package was reorganised into ``format/``, ``builders/`` and ``testing/``
(top-level classes, functions and constants of each module, plus its
``__all__``). A module that moved keeps its old path as a re-export, so each
``from <old path> import <name>`` below must keep working.
"""
import importlib
import warnings

import pytest

PUBLIC_NAMES = {
    'mmioc_rtvp.apis': (
        'BAKED_KEY', 'InferenceInput', 'MMIOCInferencer', 'OKNGThreshold',
        'Vocabulary', 'auroc', 'binary_metrics', 'build_detector',
        'calibrate_threshold', 'default_threshold_file', 'expand_inputs',
        'image_defect_score', 'read_checkpoint', 'verdict',
    ),
    'mmioc_rtvp.apis.baked_checkpoint': (
        'bake_checkpoint', 'baked_vocabulary',
    ),
    'mmioc_rtvp.apis.inference_inputs': (
        'IMAGE_EXTENSIONS', 'InferenceInput', 'InputsType',
        'VIDEO_EXTENSIONS', 'VideoInput', 'count_frames', 'expand_inputs',
        'iter_images', 'num_images', 'read_image', 'read_video',
    ),
    'mmioc_rtvp.apis.mmioc_inferencer': (
        'DROPPED_META_KEYS', 'MMIOCInferencer', 'RESULTS_FILE',
        'SKIPPED_TRANSFORMS',
    ),
    'mmioc_rtvp.apis.model_loading': (
        'BAKED_KEY', 'TEXT_MODEL', 'build_detector', 'check_and_load',
        'expected_missing', 'model_config_for', 'read_checkpoint',
    ),
    'mmioc_rtvp.apis.ok_ng': (
        'METHODS', 'OKNGThreshold', 'THRESHOLD_SUFFIX', 'auroc',
        'binary_metrics', 'calibrate_threshold', 'default_threshold_file',
        'image_defect_score', 'verdict',
    ),
    'mmioc_rtvp.apis.vocabulary': (
        'CLASS_SEPARATOR', 'PROMPT_SEPARATOR', 'Vocabulary', 'VocabularyLike',
    ),
    'mmioc_rtvp.datasets': (
        'LoadText', 'MMIOCDataset', 'MMIOCGroundingDataset',
        'MultiModalDataset', 'RandomLoadText', 'load_class_texts',
        'multimodal_collate',
    ),
    'mmioc_rtvp.datasets.compact_annotations': (
        'BLOCK_SIZE', 'Buffer', 'CHUNK_RECORDS', 'CompactAnnotations',
        'JsonArraySpan', 'JsonSyntaxError', 'build_compact_annotations',
        'close_buffer', 'close_members', 'iter_record_chunks', 'open_buffer',
        'scan_json_object',
    ),
    'mmioc_rtvp.datasets.file_utils': (
        'check_dir', 'check_file', 'is_local_path', 'load_json',
    ),
    'mmioc_rtvp.datasets.mmioc_dataset': (
        'MMIOCDataset', 'make_palette',
    ),
    'mmioc_rtvp.datasets.mmioc_grounding_dataset': (
        'MMIOCGroundingDataset',
    ),
    'mmioc_rtvp.datasets.mmioc_mini': (
        'ALPHA_MIN', 'BOX_MARGIN', 'CONTRAST_RANGE', 'DEFAULT_CONTRAST',
        'DEFAULT_DEFECT_SCALE', 'DEFECTS', 'DEFECT_FREE_FRACTION',
        'DEFECT_MAKERS', 'DEFECT_SCALE_RANGE', 'DefectStamp',
        'GENERATOR_VERSION', 'INSTANCE_PROBS', 'ImagePlan', 'JPEG_QUALITY',
        'MATERIALS', 'MaterialSpec', 'MiniClass', 'RenderedImage',
        'SPLIT_NAMES', 'SPLIT_VOCABULARY', 'SUPERSAMPLE', 'ShadeFn',
        'TEXT_FILES', 'check_difficulty', 'check_params', 'expected_files',
        'format_summary', 'generate_mmioc_mini', 'is_up_to_date',
        'make_crack', 'make_hole', 'make_missing_part', 'make_scratch',
        'make_spot', 'make_stain', 'mask_to_bbox', 'mmioc_mini_classes',
        'plan_mmioc_mini', 'render_image', 'render_planned_image',
        'sample_texture', 'scene_slug', 'split_closed',
    ),
    'mmioc_rtvp.datasets.multimodal_collate': (
        'multimodal_collate',
    ),
    'mmioc_rtvp.datasets.multimodal_dataset': (
        'MultiModalDataset', 'load_class_texts',
    ),
    'mmioc_rtvp.datasets.transforms': (
        'Albu', 'LoadImageFromFile', 'LoadText', 'RandomLoadText',
        'image_defect',
    ),
    'mmioc_rtvp.datasets.transforms.albu': (
        'Albu',
    ),
    'mmioc_rtvp.datasets.transforms.load_image_from_file': (
        'BAD_DATA_LEDGER_ENV', 'LoadImageFromFile', 'image_defect',
    ),
    'mmioc_rtvp.datasets.transforms.load_text': (
        'LoadText',
    ),
    'mmioc_rtvp.datasets.transforms.random_load_text': (
        'BOX_KEYS', 'RandomLoadText',
    ),
    'mmioc_rtvp.datasets.transforms.text_utils': (
        'get_class_texts',
    ),
    'mmioc_rtvp.deploy': (
        'ExportableDetector', 'ExportableMiniLM', 'ORTDetector',
        'ORTTextEncoder', 'batched_nms', 'build_metadata', 'export_onnx',
        'export_text_encoder', 'nms', 'postprocess_detections',
        'read_metadata',
    ),
    'mmioc_rtvp.deploy.export_layer_norm2d': (
        'ExportLayerNorm2d',
    ),
    'mmioc_rtvp.deploy.exportable_detector': (
        'ExportableDetector',
    ),
    'mmioc_rtvp.deploy.exportable_minilm': (
        'ExportableMiniLM',
    ),
    'mmioc_rtvp.deploy.onnx_export': (
        'DEFAULT_OPSET', 'METADATA_KEY', 'VOCAB_AXIS', 'build_metadata',
        'export_friendly_copy', 'export_onnx', 'export_text_encoder',
        'read_metadata', 'trace_to_onnx',
    ),
    'mmioc_rtvp.deploy.ort_detector': (
        'METADATA_KEY', 'ORTDetector',
    ),
    'mmioc_rtvp.deploy.ort_inferencer': (
        'ORTInferencer',
    ),
    'mmioc_rtvp.deploy.ort_text_encoder': (
        'ORTTextEncoder',
    ),
    'mmioc_rtvp.deploy.postprocess': (
        'SPLIT_THR', 'batched_nms', 'filter_scores_and_topk', 'nms',
        'postprocess_detections',
    ),
    'mmioc_rtvp.evaluation.functional': (
        'COCO_BACKENDS', 'COCO_STAT_NAMES', 'CocoEvalResult', 'ap_row',
        'detections_array', 'evaluate_coco_bbox', 'group_rows',
        'harmonic_mean', 'markdown_table', 'summarize_precision', 'write_csv',
    ),
    'mmioc_rtvp.evaluation.functional.ap_summary': (
        'AP_COLUMNS', 'ap_row', 'group_rows', 'harmonic_mean',
        'markdown_table', 'summarize_precision', 'write_csv',
    ),
    'mmioc_rtvp.evaluation.functional.coco_evaluation': (
        'COCO_BACKENDS', 'COCO_STAT_NAMES', 'CocoEvalResult', 'coco_gt_dict',
        'detections_array', 'evaluate_coco_bbox',
    ),
    'mmioc_rtvp.evaluation.functional.lvis_evaluation': (
        'LVIS_AP_NAMES', 'evaluate_lvis_bbox',
    ),
    'mmioc_rtvp.evaluation.metrics': (
        'FastLVISMetric', 'MMIOCMetric', 'MMIOCRefExpMetric',
    ),
    'mmioc_rtvp.evaluation.metrics.fast_lvis_metric': (
        'FastLVISMetric',
    ),
    'mmioc_rtvp.evaluation.metrics.mmioc_metric': (
        'MMIOCMetric', 'load_class_names',
    ),
    'mmioc_rtvp.evaluation.metrics.mmioc_ref_exp_metric': (
        'MMIOCRefExpMetric',
    ),
    'mmioc_rtvp.evaluation.synthetic_detections': (
        'detection_list_to_array', 'random_coco_detections',
    ),
    'mmioc_rtvp.toolkit.converters': (
        'BOX_REASONS', 'BaseConverter', 'COCOConverter', 'CategorySpec',
        'ClassMapping', 'ConversionReport', 'IMAGE_REASONS', 'ImageError',
        'ImageProbe', 'MVTecConverter', 'MappingError', 'MaskSource',
        'SourceBox', 'SourceImage', 'VOCConverter', 'YOLOConverter',
        'hash_file', 'probe_image', 'read_class_names',
    ),
    'mmioc_rtvp.toolkit.converters.base_converter': (
        'BOX_FORMATS', 'BaseConverter', 'MaskSource', 'SourceBox',
        'SourceImage', 'mask_components', 'parse_finite', 'to_xyxy',
    ),
    'mmioc_rtvp.toolkit.converters.class_mapping': (
        'CategorySpec', 'ClassMapping', 'MappingError',
    ),
    'mmioc_rtvp.toolkit.converters.cli': (
        'EXIT_INVALID', 'EXIT_NOTHING_CONVERTED', 'EXIT_OK',
        'add_common_arguments', 'common_kwargs', 'run_converter',
    ),
    'mmioc_rtvp.toolkit.converters.coco_converter': (
        'COCOConverter',
    ),
    'mmioc_rtvp.toolkit.converters.conversion_report': (
        'BOX_REASONS', 'ConversionReport', 'IMAGE_REASONS',
    ),
    'mmioc_rtvp.toolkit.converters.file_io': (
        'is_within', 'read_json', 'relative_to', 'split_posix', 'walk_files',
        'write_json',
    ),
    'mmioc_rtvp.toolkit.converters.image_io': (
        'CHECKS', 'IMAGE_EXTENSIONS', 'IMAGE_MODES', 'ImageError',
        'ImageProbe', 'hash_file', 'is_image_file', 'place_image',
        'probe_image',
    ),
    'mmioc_rtvp.toolkit.converters.mvtec_converter': (
        'GOOD', 'MVTecConverter',
    ),
    'mmioc_rtvp.toolkit.converters.voc_converter': (
        'VOCConverter',
    ),
    'mmioc_rtvp.toolkit.converters.yolo_converter': (
        'YOLOConverter', 'read_class_names',
    ),
    'mmioc_rtvp.toolkit.grounding': (
        'ATTRIBUTES', 'Expression', 'ORDER_AXES', 'ORDINALS', 'REGIONS',
        'ReferringRules', 'SIDES', 'SIZES', 'candidates', 'group_expressions',
        'noun_of', 'parse', 'referent_of', 'render',
    ),
    'mmioc_rtvp.toolkit.grounding_split': (
        'DATASET_NAME', 'GroundingReport', 'OPEN_SPLITS',
        'make_grounding_split', 'to_odvg', 'verify_grounding',
        'write_grounding_split', 'write_grounding_splits',
    ),
    'mmioc_rtvp.toolkit.io': (
        'DatasetArrays', 'REQUIRED_KEYS', 'check_structure', 'class_texts',
        'dump_json', 'encode_strings', 'float_field', 'gc_paused', 'index_of',
        'int_field', 'load_json', 'load_mmioc', 'subset',
    ),
    'mmioc_rtvp.toolkit.merge': (
        'DUPLICATE_POLICIES', 'MergeError', 'MergeReport', 'MergeSource',
        'merge_mmioc',
    ),
    'mmioc_rtvp.toolkit.split': (
        'CLOSED_SPLITS', 'OPEN_SPLITS', 'OpenClassSplit',
        'PAPER_UNSEEN_RATIO', 'SPLIT_VOCABULARY', 'TEXT_FILES',
        'build_splits', 'closed_members', 'closed_split',
        'encode_class_texts', 'image_class_pairs', 'image_strata',
        'load_open_classes', 'normalise_rows', 'open_class_record',
        'open_members', 'per_class_split_counts', 'select_open_classes',
        'split_mmioc', 'stratified_train_mask', 'write_similarity_csv',
    ),
    'mmioc_rtvp.toolkit.statistics': (
        'MEDIUM_AREA', 'PLOT_FILES', 'SCALES', 'SMALL_AREA',
        'compute_statistics', 'format_markdown', 'plot_statistics',
        'run_statistics', 'scale_bucket', 'write_class_csv',
    ),
    'mmioc_rtvp.toolkit.synthetic': (
        'benchmark_toolkit', 'make_synthetic_mmioc',
    ),
    'mmioc_rtvp.toolkit.taxonomy': (
        'Taxonomy', 'default_taxonomy_path',
    ),
    'mmioc_rtvp.toolkit.validate': (
        'ERROR', 'IMAGE_CHECKS', 'Problem', 'REASONS', 'ValidationReport',
        'WARNING', 'check_categories', 'check_class_texts',
        'check_image_files', 'validate_mmioc',
    ),
}


@pytest.mark.parametrize('module', sorted(PUBLIC_NAMES))
def test_public_names_importable(module):
    with warnings.catch_warnings():
        # an old path may warn that it moved; it must still work
        warnings.simplefilter('ignore', DeprecationWarning)
        mod = importlib.import_module(module)
    missing = [name for name in PUBLIC_NAMES[module] if not hasattr(mod, name)]
    assert not missing, f'{module} lost public names: {missing}'
