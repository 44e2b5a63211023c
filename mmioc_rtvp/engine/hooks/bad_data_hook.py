# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Count the training images that could not be read and were replaced."""
import json
import logging
import os
import os.path as osp
from collections import Counter
from typing import Dict, Optional

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmioc_rtvp.datasets.transforms.load_image_from_file import \
    BAD_DATA_LEDGER_ENV
from mmioc_rtvp.registry import HOOKS


@HOOKS.register_module()
class BadDataHook(Hook):
    """Report the images :class:`~mmioc_rtvp.datasets.transforms.
    LoadImageFromFile` replaced during training.

    The loader runs in data-loader worker processes, whose state the main
    process cannot see. Before training, this hook points the environment
    variable ``MMIOC_BAD_DATA_LEDGER`` (inherited by the workers, forked or
    spawned) to ``<log_dir>/bad_data_rank<r>.jsonl``; the loader appends one
    line per replacement there. The hook reads the new lines after each
    iteration:

    - each unreadable image is logged once, with its path and the reason;
    - ``bad_images`` (distinct images) and ``bad_image_replacements`` (times
      a sample was replaced) appear in every training log line;
    - a summary with the count and the paths ends the run.
    """

    priority = 'NORMAL'

    def __init__(self) -> None:
        self.ledger: Optional[str] = None
        self._offset = 0
        self.reasons: Dict[str, str] = {}
        self.replacements: Counter = Counter()
        self._previous_env: Optional[str] = None

    def before_train(self, runner) -> None:
        self.ledger = osp.join(runner.log_dir,
                               f'bad_data_rank{get_rank()}.jsonl')
        open(self.ledger, 'w').close()
        self._offset = 0
        self._previous_env = os.environ.get(BAD_DATA_LEDGER_ENV)
        os.environ[BAD_DATA_LEDGER_ENV] = self.ledger

    def _read_new(self, runner) -> None:
        if self.ledger is None or not osp.isfile(self.ledger):
            return
        if osp.getsize(self.ledger) == self._offset:
            return
        with open(self.ledger, 'rb') as f:
            f.seek(self._offset)
            data = f.read()
        # only whole lines: a worker may be writing the next one
        end = data.rfind(b'\n') + 1
        self._offset += end
        for line in data[:end].decode('utf-8').splitlines():
            entry = json.loads(line)
            path = entry['path']
            if path not in self.reasons:
                self.reasons[path] = entry['reason']
                print_log(
                    f'unreadable training image {path} ({entry["reason"]}): '
                    'replaced by another sample', logger='current',
                    level=logging.WARNING)
            self.replacements[path] += 1

    def after_train_iter(self, runner, batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        self._read_new(runner)
        runner.message_hub.update_scalar('train/bad_images',
                                         len(self.reasons))
        runner.message_hub.update_scalar('train/bad_image_replacements',
                                         sum(self.replacements.values()))

    def after_train(self, runner) -> None:
        self._read_new(runner)
        if self._previous_env is None:
            os.environ.pop(BAD_DATA_LEDGER_ENV, None)
        else:
            os.environ[BAD_DATA_LEDGER_ENV] = self._previous_env
        lines = [
            f'bad data: {len(self.reasons)} unreadable training image(s), '
            f'replaced {sum(self.replacements.values())} time(s)'
            + (':' if self.reasons else '')
        ]
        lines += [
            f'  {path}: {reason} (replaced {self.replacements[path]}x)'
            for path, reason in sorted(self.reasons.items())
        ]
        print_log('\n'.join(lines), logger='current',
                  level=logging.WARNING if self.reasons else logging.INFO)
