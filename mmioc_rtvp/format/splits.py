# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The split / vocabulary contract of an MMIOC dataset directory.

An MMIOC dataset directory holds ``annotations/<split>.json`` files and
``texts/<vocabulary file>`` class-text files; these tables say which splits
exist and which class-text file goes with which annotation file. The builders
(:mod:`mmioc_rtvp.builders.split`, the MMIOC-mini generator) write them and
the configs (``configs/_base_/datasets/``) read them.
"""
#: Closed-set splits (every class in train and val).
CLOSED_SPLITS = ('closed_train', 'closed_val')
#: Open-set splits (unseen classes absent from ``open_train``).
OPEN_SPLITS = ('open_train', 'open_val', 'open_val_seen',
               'open_val_generalized')
#: Every annotation file of a split dataset (``annotations/<name>.json``).
SPLIT_NAMES = CLOSED_SPLITS + OPEN_SPLITS
#: Class-text file of each vocabulary (``texts/<file>``).
TEXT_FILES = {
    'closed': 'closed_class_texts.json',
    'seen': 'seen_class_texts.json',
    'unseen': 'unseen_class_texts.json',
    'generalized': 'generalized_class_texts.json',
}
#: Vocabulary of each annotation file.
SPLIT_VOCABULARY = {
    'closed_train': 'closed',
    'closed_val': 'closed',
    'open_train': 'seen',
    'open_val': 'unseen',
    'open_val_seen': 'seen',
    'open_val_generalized': 'generalized',
}
