# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""mmdet's ``Albu`` with reproducible random draws."""
import random

import numpy as np
from mmdet.datasets.transforms import Albu as MMDetAlbu

from mmioc_rtvp.registry import TRANSFORMS


@TRANSFORMS.register_module()
class Albu(MMDetAlbu):
    """mmdet's :class:`~mmdet.datasets.transforms.Albu` whose random draws
    follow NumPy's global generator, as every other transform's do.

    Since albumentations gave each ``Compose`` its own generators (late
    2024, 1.4.2x; 2.0.8 here; albumentations issue 2332), a ``Compose``
    built without a ``seed`` (mmdet builds it so) draws from generators
    seeded from the operating system's entropy when it is created,
    independent of ``np.random.seed`` / ``random.seed``. A training run then applies
    different albumentations (which of ``Blur``, ``MedianBlur``, ``ToGray``,
    ``CLAHE`` fires, and with which parameters) in every process, whatever
    ``randomness.seed`` says: two runs of the same config differ, and a
    resumed run (``ExactResumeEpochBasedTrainLoop`` re-seeds the global
    generators, not these) is not the uninterrupted one (measured:
    docs/reliability.md).

    Here, before each call, one integer is drawn from NumPy's global
    generator and seeds a fresh NumPy and Python generator that the
    ``Compose`` and all its transforms share (the draws of its transforms
    stay independent of each other). The augmentations are then a function
    of the global random state, which MMEngine seeds (per data-loader worker
    too) and the loop re-seeds per iteration. Needs albumentations >= 2.0
    (``Compose.set_random_state``; requirements/runtime.txt).

    Args: as mmdet's ``Albu``.
    """

    def transform(self, results: dict) -> dict:
        """Seed the albumentations from the global generator, then apply
        them (mmdet's ``Albu.transform``)."""
        seed = int(np.random.randint(0, 2**31 - 1))
        self.aug.set_random_state(
            np.random.default_rng(seed), random.Random(seed))
        return super().transform(results)
