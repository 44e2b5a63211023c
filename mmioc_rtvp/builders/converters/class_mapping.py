# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The user mapping from source class names to MMIOC categories.

A mapping file is JSON (or YAML when PyYAML is installed)::

    {
      "default_scene": "steel",
      "classes": {
        "crazing": {"supercategory": "metal", "scene": "steel",
                    "name": "crazing on steel",
                    "texts": ["crazing on steel", "fine cracks on steel"]},
        "scratches": {...}
      }
    }

- ``classes`` maps each source class name to its category: ``supercategory``
  and ``scene`` (both in the taxonomy, the scene under that supercategory),
  ``name`` (the subcategory) and ``texts`` (non-empty prompts, the first
  being the canonical one). Boxes of a source class that is not a key are
  rejected as ``unknown_class``.
- Several source classes may map to the same ``name`` only with identical
  definitions (an explicit many-to-one merge); conflicting definitions of one
  name are an error.
- ``default_scene`` (optional) is the scene of images without a converted
  box (defect-free images): a scene name, or an object that maps a source
  group (the MVTec object category) to a scene.
"""
import json
import os.path as osp
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Union

from mmioc_rtvp.format.taxonomy import Taxonomy

_ENTRY_KEYS = ('supercategory', 'scene', 'name', 'texts')
_TOP_KEYS = ('classes', 'default_scene', 'description')


class MappingError(ValueError):
    """The mapping is invalid.

    Args:
        path (str): The mapping file (or ``'<mapping>'``).
        problems (list[str]): One line per problem.
    """

    def __init__(self, path: str, problems: List[str]) -> None:
        self.path = path
        self.problems = list(problems)
        lines = '\n'.join(f'  {path}: {p}' for p in self.problems)
        super().__init__(f'invalid class mapping ({len(self.problems)} '
                         f'problem(s)):\n{lines}')


@dataclass(frozen=True)
class CategorySpec:
    """An MMIOC category (the target of one or more source classes).

    Args:
        name (str): Subcategory name.
        supercategory (str): Supercategory.
        scene (str): Scene.
        texts (tuple[str]): Prompts; the first is the canonical one.
    """
    name: str
    supercategory: str
    scene: str
    texts: Tuple[str, ...]

    def to_category(self, cat_id: int) -> dict:
        """The category record of the MMIOC format."""
        return dict(
            id=cat_id,
            name=self.name,
            supercategory=self.supercategory,
            scene=self.scene,
            texts=list(self.texts))


def _reject_duplicate_keys(pairs: List[Tuple[str, Any]]) -> dict:
    seen: Dict[str, Any] = {}
    duplicates = []
    for key, value in pairs:
        if key in seen:
            duplicates.append(key)
        seen[key] = value
    if duplicates:
        raise _DuplicateKeys(duplicates)
    return seen


class _DuplicateKeys(ValueError):

    def __init__(self, keys: List[str]) -> None:
        self.keys = keys
        super().__init__(', '.join(keys))


def _read_mapping_file(path: str) -> Any:
    if not osp.isfile(path):
        raise MappingError(path, ['file not found'])
    with open(path, 'rb') as f:
        raw = f.read()
    try:
        text = raw.decode('utf-8-sig')
    except UnicodeDecodeError as err:
        raise MappingError(path, [f'not UTF-8 text: {err}'])
    if path.lower().endswith(('.yaml', '.yml')):
        try:
            import yaml
        except ImportError:
            raise MappingError(path, [
                'YAML mapping files need PyYAML (pip install pyyaml); '
                'or write the mapping as JSON'
            ])
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as err:
            first = str(err).splitlines()[0] if str(err) else repr(err)
            raise MappingError(path, [f'not valid YAML: {first}'])
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicate_keys)
    except _DuplicateKeys as err:
        raise MappingError(path, [
            f"key '{k}' appears twice (JSON keeps only the last one)"
            for k in err.keys
        ])
    except ValueError as err:
        raise MappingError(path, [f'not valid JSON: {err}'])


class ClassMapping:
    """Validated source-class -> MMIOC-category mapping.

    Args:
        classes (dict[str, CategorySpec]): Source class name -> category.
        default_scene (str | dict[str, str], optional): Scene of images
            without a converted box, globally or per source group.
        path (str): Where the mapping comes from, for messages.

    Use :meth:`from_dict` or :meth:`load`, which validate their input.
    """

    def __init__(self,
                 classes: Dict[str, CategorySpec],
                 default_scene: Union[None, str, Dict[str, str]] = None,
                 path: str = '<mapping>') -> None:
        self.classes = dict(classes)
        self.default_scene = default_scene
        self.path = path

    @classmethod
    def load(cls, path: str, taxonomy: Taxonomy) -> 'ClassMapping':
        """Read and validate a mapping file.

        Args:
            path (str): JSON or YAML mapping file.
            taxonomy (Taxonomy): Supercategories and scenes allowed.

        Returns:
            ClassMapping: The validated mapping.

        Raises:
            MappingError: The file is missing, unreadable or invalid; the
                message lists every problem with the file and class name.
        """
        return cls.from_dict(_read_mapping_file(path), taxonomy, path=path)

    @classmethod
    def from_dict(cls,
                  data: Any,
                  taxonomy: Taxonomy,
                  path: str = '<mapping>') -> 'ClassMapping':
        """Validate a mapping given as a dict (see the module docstring).

        Args:
            data (dict): The mapping.
            taxonomy (Taxonomy): Supercategories and scenes allowed.
            path (str): Name used in messages.

        Returns:
            ClassMapping: The validated mapping.

        Raises:
            MappingError: Every problem found, one line each.
        """
        if not isinstance(data, dict) or not isinstance(
                data.get('classes'), dict):
            raise MappingError(path, [
                "expected an object with a 'classes' object "
                '(source class name -> {supercategory, scene, name, texts})'
            ])
        problems: List[str] = []
        for key in data:
            if key not in _TOP_KEYS:
                problems.append(f"unknown top-level key '{key}' (allowed: "
                                f"{', '.join(_TOP_KEYS)})")
        if not data['classes']:
            problems.append("'classes' is empty")
        classes: Dict[str, CategorySpec] = {}
        by_name: Dict[str, Tuple[str, CategorySpec]] = {}
        for source, entry in data['classes'].items():
            where = f"class '{source}'"
            if not isinstance(source, str) or not source.strip():
                problems.append(f'class key {source!r} is not a non-empty '
                                'string')
                continue
            if not isinstance(entry, dict):
                problems.append(f'{where}: expected an object with '
                                f"{', '.join(_ENTRY_KEYS)}")
                continue
            entry_problems = []
            for key in entry:
                if key not in _ENTRY_KEYS:
                    entry_problems.append(
                        f"{where}: unknown key '{key}' "
                        f"(allowed: {', '.join(_ENTRY_KEYS)})")
            for key in ('supercategory', 'scene', 'name'):
                value = entry.get(key)
                if not isinstance(value, str) or not value.strip():
                    entry_problems.append(
                        f"{where}: '{key}' must be a non-empty string, "
                        f'got {value!r}')
            texts = entry.get('texts')
            if not isinstance(texts, list) or not texts:
                entry_problems.append(
                    f"{where}: 'texts' must be a non-empty list of prompts, "
                    f'got {texts!r}')
            elif not all(isinstance(t, str) and t.strip() for t in texts):
                entry_problems.append(
                    f"{where}: 'texts' holds an empty or non-string prompt: "
                    f'{texts!r}')
            if not entry_problems:
                reason = taxonomy.check(entry['supercategory'], entry['scene'])
                if reason is not None:
                    entry_problems.append(f'{where}: {reason}')
            if entry_problems:
                problems.extend(entry_problems)
                continue
            spec = CategorySpec(
                name=entry['name'].strip(),
                supercategory=entry['supercategory'],
                scene=entry['scene'],
                texts=tuple(t.strip() for t in texts))
            if spec.name in by_name and by_name[spec.name][1] != spec:
                other, other_spec = by_name[spec.name]
                diff = [
                    k for k in ('supercategory', 'scene', 'texts')
                    if getattr(spec, k) != getattr(other_spec, k)
                ]
                problems.append(
                    f"{where}: duplicate name '{spec.name}' (also the name of "
                    f"class '{other}') with a different {', '.join(diff)}; "
                    'several source classes may share a name only with '
                    'identical definitions')
                continue
            by_name.setdefault(spec.name, (source, spec))
            classes[source] = spec
        default_scene = data.get('default_scene')
        if default_scene is not None:
            scenes = ([default_scene] if isinstance(default_scene, str) else
                      list(default_scene.values()) if isinstance(
                          default_scene, dict) else None)
            if scenes is None:
                problems.append("'default_scene' must be a scene name or an "
                                'object group -> scene name, got '
                                f'{default_scene!r}')
            for scene in scenes or []:
                if not isinstance(scene, str) or not taxonomy.has_scene(scene):
                    problems.append(f"'default_scene': unknown scene "
                                    f'{scene!r}')
        if problems:
            raise MappingError(path, problems)
        return cls(classes, default_scene=default_scene, path=path)

    def __contains__(self, source_class: str) -> bool:
        return source_class in self.classes

    def get(self, source_class: str) -> Optional[CategorySpec]:
        """The category of a source class, or ``None`` if unmapped."""
        return self.classes.get(source_class)

    def categories(self, taxonomy: Taxonomy) -> List[CategorySpec]:
        """The distinct target categories, in taxonomy order."""
        unique = {spec.name: spec for spec in self.classes.values()}
        return sorted(
            unique.values(),
            key=lambda s: taxonomy.sort_key(s.supercategory, s.scene, s.name))

    def scene_of_group(self, group: Optional[str]) -> Optional[str]:
        """Scene of an image without converted boxes.

        Args:
            group (str, optional): The image's source group (the MVTec object
                category), if the format has groups.

        Returns:
            str or None: ``default_scene`` (for the group when it is a dict);
            otherwise, for a group, the scene that all classes named
            ``'<group>/...'`` share, if they share one; else ``None``.
        """
        if isinstance(self.default_scene, str):
            return self.default_scene
        if isinstance(self.default_scene,
                      dict) and group in self.default_scene:
            return self.default_scene[group]
        if group is None:
            return None
        scenes = {
            spec.scene
            for source, spec in self.classes.items()
            if source.startswith(group + '/')
        }
        return scenes.pop() if len(scenes) == 1 else None
