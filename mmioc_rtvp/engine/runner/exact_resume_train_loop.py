# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""An epoch-based training loop whose resumed runs equal uninterrupted ones."""
import logging
import random
from functools import partial
from typing import Optional

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop

from mmioc_rtvp.registry import LOOPS

# tags that keep the seeds of the seeding points apart
_ITERATOR_TAG = 0
_ITERATION_TAG = 1
_WORKER_TAG = 2


def seed_everything_for(seed: int, tag: int, step: int,
                        rank: Optional[int] = None,
                        worker: Optional[int] = None) -> None:
    """Seed Python's, NumPy's and PyTorch's global generators from a key.

    The three seeds are drawn from ``numpy.random.SeedSequence([seed, tag,
    step(, rank)])``, so the generators' states are a pure function of the
    key, never of what ran before.

    Args:
        seed (int): the run's seed (``runner.seed``).
        tag (int): which seeding point (iterator creation or iteration).
        step (int): the epoch (iterator) or the global iteration index.
        rank (int, optional): the process rank, for runs that want a
            different stream per rank (``randomness.diff_rank_seed``).
        worker (int, optional): the data-loader worker id.
    """
    key = [int(seed) % 2**32, tag, int(step)]
    if rank is not None:
        key.append(int(rank))
    if worker is not None:  # a key of its own tag: no clash with the above
        key.append(int(worker))
    words = np.random.SeedSequence(key).generate_state(3, dtype=np.uint32)
    random.seed(int(words[0]))
    np.random.seed(int(words[1]))
    torch.manual_seed(int(words[2]))


def _seed_worker(worker_id: int, seed: int, epoch: int,
                 rank: Optional[int]) -> None:
    """``worker_init_fn`` of :meth:`ExactResumeEpochBasedTrainLoop
    ._seed_workers`."""
    seed_everything_for(seed, _WORKER_TAG, epoch, rank, worker_id)


@LOOPS.register_module()
class ExactResumeEpochBasedTrainLoop(EpochBasedTrainLoop):
    """MMEngine's :class:`EpochBasedTrainLoop` that resumes exactly.

    A run killed at any point and resumed (``--resume``) from its last
    checkpoint ends with the same weights, bit for bit, as a run that was
    never interrupted (same config, deterministic kernels). The parent loop
    loses that in two ways, both fixed here:

    1. **Mid-epoch checkpoints** (``CheckpointHook(by_epoch=False)``): the
       parent restarts the epoch from its first batch, so the batches before
       the checkpoint are trained twice. Here the loop draws and discards
       them (the sampler's order depends only on the seed and the epoch, and
       loading them again keeps data-loader workers in step), then trains
       from the batch after the checkpoint.
    2. **Random states**: checkpoints do not hold the generators' states, so
       after a resume the augmentations and the model's random draws (e.g.
       EDP's block mask) differ. Here Python's, NumPy's and PyTorch's global
       generators are re-seeded from ``(seed, global iteration)`` before
       each batch is loaded, and from ``(seed, epoch)`` before each epoch's
       data-loader iterator is made: the random state of every step is a
       function of its index, so nothing has to be stored.

    3. **Cached text embeddings**: a frozen text encoder encodes each new
       prompt once and caches it, in batches of the prompts first seen
       together; a batched encoding differs in the last bits with its batch
       (padding length, kernel blocking), so a resumed run, whose cache
       starts empty, would meet other groupings. Here the whole training
       vocabulary (``metainfo['texts']``) is encoded once before training,
       sorted, in a fixed grouping, in every run.

    Every random draw must come from those global generators: a transform
    with a generator of its own, seeded from OS entropy, makes every process
    differ (mmdet's ``Albu`` with albumentations 2.x did; the configs use
    mmioc_rtvp's ``Albu``, which draws from NumPy's global generator).
    ``PYTHONHASHSEED`` does not matter (measured: docs/reliability.md).

    Data-loader workers are started for every epoch
    (``persistent_workers=False``, the shipped default) and seed themselves
    from ``(seed, epoch, rank, worker id)``; the batches a resumed epoch
    skips are still loaded, so every worker draws what it drew in the
    uninterrupted run. With ``persistent_workers=True`` workers carry their
    state across epochs, which a resumed run cannot reproduce: exactness
    then holds only within the first epoch (a warning says so). See
    docs/reliability.md.

    Args: as :class:`mmengine.runner.EpochBasedTrainLoop`.
    """

    def _seed(self, tag: int, step: int) -> None:
        diff_rank = self.runner._randomness_cfg.get('diff_rank_seed', False)
        seed_everything_for(self.runner.seed, tag, step,
                            get_rank() if diff_rank else None)

    def _seed_workers(self, epoch: int) -> None:
        """Workers started for ``epoch`` seed their generators from
        ``(seed, epoch, rank, worker id)``: another stream every epoch, the
        same in a resumed run (MMEngine's ``worker_init_fn`` gives a worker
        the same seed every epoch)."""
        if self.dataloader.num_workers == 0:
            return
        rank = get_rank() if self.runner._randomness_cfg.get(
            'diff_rank_seed', False) else None
        self.dataloader.worker_init_fn = partial(
            _seed_worker, seed=self.runner.seed, epoch=epoch, rank=rank)

    def run(self) -> torch.nn.Module:
        """Warm the text caches, then train (the parent's loop)."""
        if getattr(self.dataloader, 'persistent_workers', False):
            print_log(
                'ExactResumeEpochBasedTrainLoop: persistent_workers=True '
                'keeps the data-loader workers\' random state from one '
                'epoch to the next, which a resumed run cannot reproduce: '
                'resumed runs equal uninterrupted ones only within the '
                'first epoch. Set persistent_workers=False (the shipped '
                'default; docs/reliability.md).',
                logger='current', level=logging.WARNING)
        self.warm_text_caches()
        return super().run()

    def warm_text_caches(self) -> int:
        """Encode the training vocabulary with every frozen, caching text
        encoder of the model, sorted, in one fixed grouping.

        Returns:
            int: the number of prompts of the vocabulary (0 without one).
        """
        from mmioc_rtvp.models.text_encoders.base import BaseTextEncoder
        texts = (getattr(self.dataloader.dataset, 'metainfo', None)
                 or {}).get('texts') or ()
        prompts = sorted({p for prompts in texts for p in prompts if p})
        if not prompts:
            return 0
        model = self.runner.model
        model = getattr(model, 'module', model)
        for module in model.modules():
            if isinstance(module, BaseTextEncoder) and module.frozen:
                module.encode(prompts)
        return len(prompts)

    def run_epoch(self) -> None:
        """Train one epoch, starting after the batches already trained."""
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        num_batches = len(self.dataloader)
        first_iter = self._epoch * num_batches
        done = min(max(self._iter - first_iter, 0), num_batches)
        if done:
            print_log(
                f'Resuming epoch {self._epoch + 1} after its batch {done} of '
                f'{num_batches}: loading and skipping the first {done}.',
                logger='current')
        if done < num_batches:
            self._seed_workers(self._epoch)
            self._seed(_ITERATOR_TAG, self._epoch)
            batches = iter(self.dataloader)
            for idx in range(num_batches):
                self._seed(_ITERATION_TAG, first_iter + idx)
                data_batch = next(batches)
                if idx >= done:
                    self.run_iter(idx, data_batch)
            del batches
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1
