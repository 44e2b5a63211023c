# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Leave frozen, file-backed modules out of training checkpoints."""
import logging
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.hooks import EMAHook, Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from mmioc_rtvp.registry import HOOKS
# re-exported: the key was defined here
from mmioc_rtvp.utils.checkpoint_keys import SLIM_META_KEY  # noqa: F401

#: Attributes naming the file a module's weights were loaded from.
WEIGHT_SOURCE_ATTRS = ('checkpoint', 'model_path', 'model_name_or_path',
                       'embeddings_file')
#: Prefix of the EMA copy's keys in ``checkpoint['ema_state_dict']``.
EMA_PREFIX = 'module.'


def _has_state(module: nn.Module) -> bool:
    """Whether ``module`` writes anything into a ``state_dict``."""
    return bool(module.state_dict())


def file_backed_frozen_modules(model: nn.Module) -> Dict[str, str]:
    """Frozen submodules whose weights come from their own files.

    A submodule qualifies when it has ``frozen == True``, none of its
    parameters requires gradients, it stores tensors in a ``state_dict``,
    and it names the file its weights were loaded from in one of
    :data:`WEIGHT_SOURCE_ATTRS` (``checkpoint`` of the Mobile-SAM /
    MobileNetV2 encoders, ``model_path`` / ``model_name_or_path`` of the
    text encoders). Such a module is rebuilt identically whenever the
    model is built from its config, so a checkpoint need not store it.
    A frozen module with *random* weights (``checkpoint=None``) does not
    qualify: nothing but the checkpoint can restore it.

    Args:
        model (nn.Module): The (unwrapped) model.

    Returns:
        dict[str, str]: ``{module name: weights file}``, outermost modules
        only, in ``named_modules`` order.
    """
    found: Dict[str, str] = {}
    for name, module in model.named_modules():
        if not name or any(name.startswith(p + '.') for p in found):
            continue
        if getattr(module, 'frozen', False) is not True:
            continue
        source = next((getattr(module, a) for a in WEIGHT_SOURCE_ATTRS
                       if getattr(module, a, None)), None)
        if source is None or not _has_state(module):
            continue
        if any(p.requires_grad for p in module.parameters()):
            continue
        found[name] = str(source)
    return found


def frozen_random_modules(model: nn.Module) -> List[str]:
    """Frozen submodules without a weights file (kept in checkpoints)."""
    names = []
    for name, module in model.named_modules():
        if (name and getattr(module, 'frozen', False) is True
                and _has_state(module)
                and not any(getattr(module, a, None)
                            for a in WEIGHT_SOURCE_ATTRS)
                and not any(name.startswith(p + '.') for p in names)):
            names.append(name)
    return names


def _matches(key: str, prefixes: Sequence[str]) -> bool:
    return any(key == p or key.startswith(p + '.') for p in prefixes)


def strip_state_dict(state_dict: dict, prefixes: Sequence[str],
                     key_prefix: str = '') -> int:
    """Delete (in place) the entries of modules ``prefixes``.

    Args:
        state_dict (dict): A ``state_dict``.
        prefixes (Sequence[str]): Module names.
        key_prefix (str): Prefix of every key (``'module.'`` for EMA).

    Returns:
        int: Number of deleted entries.
    """
    keys = [
        k for k in state_dict if k.startswith(key_prefix)
        and _matches(k[len(key_prefix):], prefixes)
    ]
    for k in keys:
        del state_dict[k]
    return len(keys)


def fill_state_dict(state_dict: dict, model: nn.Module,
                    prefixes: Sequence[str], key_prefix: str = '') -> int:
    """Add (in place) the missing entries of modules ``prefixes`` from the
    model's current weights (those loaded from the modules' own files).

    Args:
        state_dict (dict): A ``state_dict`` read from a slim checkpoint.
        model (nn.Module): The model built from the config.
        prefixes (Sequence[str]): Module names.
        key_prefix (str): Prefix of every key (``'module.'`` for EMA).

    Returns:
        int: Number of added entries.
    """
    added = 0
    for key, value in model.state_dict().items():
        if _matches(key, prefixes) and key_prefix + key not in state_dict:
            state_dict[key_prefix + key] = value.detach().clone()
            added += 1
    return added


@HOOKS.register_module()
class SlimCheckpointHook(Hook):
    """Keep frozen, file-backed modules out of checkpoints.

    Frozen modules whose weights come from their own files (the text
    encoder, a Mobile-SAM or MobileNetV2 encoder with a ``checkpoint``; see
    :func:`file_backed_frozen_modules`) are rebuilt from those files every
    time the model is built from its config. Storing them in every
    checkpoint, twice with an EMA copy, is what made a mini checkpoint
    weigh ~270 MB. This hook:

    - ``before_save_checkpoint``: deletes their entries from
      ``state_dict`` and from the EMA copy (``ema_state_dict``, keys
      ``module.<name>``), and records the modules and their weight files
      in ``meta['slim_checkpoint']``;
    - ``after_load_checkpoint`` (``load_from``, ``resume``, ``mim test``):
      puts the model's current weights of those modules back into the
      loaded dicts, so loading reports no missing keys;
    - ``after_train_iter``: copies the frozen modules' weights into the EMA
      model. An exponential moving average of constants drifts by a few
      ulps (``x * (1 - m) + m * x != x`` in float32); pinning the copy to
      the source keeps the EMA model equal to what a slim checkpoint
      restores, so resuming is bit-exact.

    Frozen modules with random weights (no file) are kept, with a log line.

    Priority ``LOW``: it runs after :class:`~mmengine.hooks.EMAHook`
    (``NORMAL``; mmyolo configs use 49), which writes ``ema_state_dict`` in
    ``before_save_checkpoint`` and updates the EMA weights in
    ``after_train_iter``. On loading, ``EMAHook(strict_load=True)`` would
    see the missing entries first; :meth:`before_run` refuses that
    combination.

    :class:`~mmioc_rtvp.engine.runner.MMIOCRunner` registers this hook
    unless the config lists one; ``dict(type='SlimCheckpointHook',
    modules=[])`` writes full checkpoints.

    Args:
        modules (Sequence[str], optional): Names of the modules to leave
            out (e.g. ``['backbone.text_model']``); None detects them with
            :func:`file_backed_frozen_modules`.
    """

    priority = 'LOW'

    def __init__(self, modules: Optional[Sequence[str]] = None) -> None:
        self.modules = None if modules is None else list(modules)
        self._sources: Dict[str, str] = {}
        self._ema_pairs: List[Tuple[torch.Tensor, torch.Tensor]] = []

    @staticmethod
    def _unwrap(model: nn.Module) -> nn.Module:
        return model.module if is_model_wrapper(model) else model

    def _resolve(self, runner) -> Dict[str, str]:
        """``{module: weights file}`` of the modules to leave out."""
        model = self._unwrap(runner.model)
        if self.modules is None:
            return file_backed_frozen_modules(model)
        names = dict(model.named_modules())
        sources = {}
        for name in self.modules:
            if name not in names:
                raise KeyError(f'SlimCheckpointHook: the model has no module '
                               f'{name!r}')
            module = names[name]
            if any(p.requires_grad for p in module.parameters()):
                raise ValueError(
                    f'SlimCheckpointHook: {name!r} has trainable parameters; '
                    'only frozen modules can be left out of checkpoints')
            sources[name] = str(next((getattr(module, a)
                                      for a in WEIGHT_SOURCE_ATTRS
                                      if getattr(module, a, None)),
                                     'its config'))
        return sources

    def before_run(self, runner) -> None:
        self._sources = self._resolve(runner)
        if not self._sources:
            return
        for hook in runner.hooks:
            if isinstance(hook, EMAHook) and hook.strict_load:
                raise ValueError(
                    'SlimCheckpointHook leaves frozen modules out of the EMA '
                    'copy, which EMAHook(strict_load=True) refuses to load: '
                    'set strict_load=False in the EMAHook config')
        lines = ', '.join(f'{k} ({v})' for k, v in self._sources.items())
        print_log(f'SlimCheckpointHook: checkpoints leave out {lines}',
                  logger='current')
        kept = frozen_random_modules(self._unwrap(runner.model))
        if kept and self.modules is None:
            print_log(
                f'SlimCheckpointHook: frozen modules with random weights '
                f'stay in checkpoints (no file to rebuild them from): '
                f'{kept}', logger='current', level=logging.INFO)

    def _ema_models(self, runner) -> Iterator[nn.Module]:
        for hook in runner.hooks:
            ema = getattr(hook, 'ema_model', None)
            if isinstance(hook, EMAHook) and ema is not None:
                yield ema.module

    def before_train(self, runner) -> None:
        """Pair the EMA copies of the frozen tensors with their sources."""
        self._ema_pairs = []
        if not self._sources:
            return
        src = self._unwrap(runner.model).state_dict(keep_vars=True)
        for ema_module in self._ema_models(runner):
            for key, dst in ema_module.state_dict(keep_vars=True).items():
                if _matches(key, list(self._sources)) and key in src:
                    self._ema_pairs.append((dst, src[key]))

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        with torch.no_grad():
            for dst, src in self._ema_pairs:
                dst.data.copy_(src.data)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if not self._sources:
            return
        prefixes = list(self._sources)
        removed = strip_state_dict(checkpoint['state_dict'], prefixes)
        ema_state = checkpoint.get('ema_state_dict')
        if isinstance(ema_state, dict):
            removed += strip_state_dict(ema_state, prefixes, EMA_PREFIX)
        checkpoint.setdefault('meta', {})[SLIM_META_KEY] = dict(
            modules=dict(self._sources), num_tensors_removed=removed)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        slim = checkpoint.get('meta', {}).get(SLIM_META_KEY)
        if not slim:
            return
        model = self._unwrap(runner.model)
        names = dict(model.named_modules())
        prefixes = list(slim['modules'])
        missing = [p for p in prefixes if p not in names]
        if missing:
            raise KeyError(
                f'the checkpoint leaves out the frozen modules {missing} '
                '(to be rebuilt from their own files), but the model built '
                'from the config has no such modules')
        fill_state_dict(checkpoint['state_dict'], model, prefixes)
        ema_state = checkpoint.get('ema_state_dict')
        if isinstance(ema_state, dict):
            fill_state_dict(ema_state, model, prefixes, EMA_PREFIX)
