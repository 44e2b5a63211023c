# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The supercategory / scene hierarchy of MMIOC-1M.

A taxonomy file is JSON::

    {"name": "mmioc-1m", "version": "0.1",
     "supercategories": [
        {"name": "metal", "source": "paper",
         "scenes": [{"name": "steel", "source": "paper"}, ...]},
        ...]}

Every scene belongs to exactly one supercategory (the paper's three-level
hierarchy: supercategory -> scene -> subcategory). The order of the file is
the order of the categories in merged datasets: categories are sorted by
(supercategory index, scene index, name). The starting taxonomy shipped with
the package is ``tools/dataset_converters/taxonomy/mmioc_taxonomy.json``.
"""
import difflib
import json
import os.path as osp
from typing import Dict, List, Optional, Tuple

_TAXONOMY_REL = osp.join('tools', 'dataset_converters', 'taxonomy',
                         'mmioc_taxonomy.json')


def default_taxonomy_path() -> str:
    """Return the path of the starting taxonomy shipped with the package.

    It is looked up in the installed package (``mmioc_rtvp/.mim/tools``) and
    then in the source tree.

    Returns:
        str: Path of ``mmioc_taxonomy.json``.

    Raises:
        FileNotFoundError: Neither location holds the file.
    """
    package_dir = osp.dirname(osp.dirname(osp.abspath(__file__)))
    candidates = [
        osp.join(package_dir, '.mim', _TAXONOMY_REL),
        osp.join(osp.dirname(package_dir), _TAXONOMY_REL),
    ]
    for path in candidates:
        if osp.isfile(path):
            return path
    raise FileNotFoundError('the default taxonomy is not installed; looked '
                            f'in {candidates}')


def _suggest(name: str, choices: List[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ''


class Taxonomy:
    """An ordered supercategory -> scenes hierarchy.

    Args:
        supercategories (list[tuple[str, list[str]]]): ``(supercategory,
            scenes)`` pairs, in order.
        name (str): Name of the taxonomy. Defaults to ``'custom'``.
        version (str): Version string. Defaults to ``''``.

    Raises:
        ValueError: A name is empty or not a string, a supercategory has no
            scene, or a supercategory or scene name appears twice.
    """

    def __init__(self,
                 supercategories: List[Tuple[str, List[str]]],
                 name: str = 'custom',
                 version: str = '') -> None:
        self.name = name
        self.version = version
        self.supercategories: List[str] = []
        self.scenes: List[str] = []
        self.scene_to_supercategory: Dict[str, str] = {}
        for supercategory, scenes in supercategories:
            if not isinstance(supercategory, str) or not supercategory:
                raise ValueError(f'taxonomy {name}: supercategory name '
                                 f'{supercategory!r} is not a non-empty '
                                 'string')
            if supercategory in self.supercategories:
                raise ValueError(f"taxonomy {name}: supercategory "
                                 f"'{supercategory}' appears twice")
            if not scenes:
                raise ValueError(f"taxonomy {name}: supercategory "
                                 f"'{supercategory}' has no scene")
            self.supercategories.append(supercategory)
            for scene in scenes:
                if not isinstance(scene, str) or not scene:
                    raise ValueError(f'taxonomy {name}: scene name {scene!r} '
                                     f"in '{supercategory}' is not a "
                                     'non-empty string')
                if scene in self.scene_to_supercategory:
                    raise ValueError(
                        f"taxonomy {name}: scene '{scene}' appears twice "
                        f"(in '{self.scene_to_supercategory[scene]}' and "
                        f"'{supercategory}')")
                self.scenes.append(scene)
                self.scene_to_supercategory[scene] = supercategory
        self._super_index = {s: i for i, s in enumerate(self.supercategories)}
        self._scene_index = {s: i for i, s in enumerate(self.scenes)}

    @classmethod
    def load(cls, path: Optional[str] = None) -> 'Taxonomy':
        """Read a taxonomy file.

        Args:
            path (str, optional): Path of the JSON file. Defaults to the
                starting taxonomy (:func:`default_taxonomy_path`).

        Returns:
            Taxonomy: The parsed taxonomy.

        Raises:
            FileNotFoundError: The file does not exist.
            ValueError: The file is not valid JSON or not a taxonomy (the
                message names the file and the reason).
        """
        path = path or default_taxonomy_path()
        if not osp.isfile(path):
            raise FileNotFoundError(f'taxonomy file not found: {path}')
        try:
            with open(path, encoding='utf-8') as f:
                data = json.load(f)
        except (ValueError, UnicodeDecodeError) as err:
            raise ValueError(f'taxonomy file {path} is not valid JSON: {err}')
        if not isinstance(data, dict) or not isinstance(
                data.get('supercategories'), list):
            raise ValueError(f'taxonomy file {path}: expected an object with '
                             "a 'supercategories' list")
        pairs = []
        for i, entry in enumerate(data['supercategories']):
            if not isinstance(entry, dict) or not isinstance(
                    entry.get('scenes'), list):
                raise ValueError(f'taxonomy file {path}: supercategories[{i}] '
                                 "is not an object with a 'scenes' list")
            scenes = [
                s.get('name') if isinstance(s, dict) else s
                for s in entry['scenes']
            ]
            pairs.append((entry.get('name'), scenes))
        try:
            return cls(
                pairs,
                name=str(data.get('name', osp.basename(path))),
                version=str(data.get('version', '')))
        except ValueError as err:
            raise ValueError(f'taxonomy file {path}: {err}')

    def check(self, supercategory: str, scene: str) -> Optional[str]:
        """Check that ``scene`` is a scene of ``supercategory``.

        Args:
            supercategory (str): Supercategory name.
            scene (str): Scene name.

        Returns:
            str or None: ``None`` when the pair is in the taxonomy, else the
            reason, with the closest known name when there is one.
        """
        if supercategory not in self._super_index:
            return (f"unknown supercategory '{supercategory}'"
                    f'{_suggest(str(supercategory), self.supercategories)}')
        if scene not in self._scene_index:
            return (f"unknown scene '{scene}'"
                    f'{_suggest(str(scene), self.scenes)}')
        owner = self.scene_to_supercategory[scene]
        if owner != supercategory:
            return (f"scene '{scene}' belongs to supercategory '{owner}', "
                    f"not '{supercategory}'")
        return None

    def has_scene(self, scene: str) -> bool:
        """Whether ``scene`` is a scene of the taxonomy."""
        return scene in self._scene_index

    def sort_key(self, supercategory: str, scene: str,
                 name: str) -> Tuple[int, int, str]:
        """Key that sorts categories in taxonomy order.

        Args:
            supercategory (str): A supercategory of the taxonomy.
            scene (str): A scene of that supercategory.
            name (str): The subcategory name (ties are broken by it).

        Returns:
            tuple[int, int, str]: ``(supercategory index, scene index,
            name)``.
        """
        return (self._super_index[supercategory], self._scene_index[scene],
                name)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(name={self.name!r}, '
                f'{len(self.supercategories)} supercategories, '
                f'{len(self.scenes)} scenes)')
