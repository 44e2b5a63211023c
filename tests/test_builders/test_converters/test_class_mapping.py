# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The taxonomy file and the validation of class mappings."""
import json

import pytest

from mmioc_rtvp.builders.converters import ClassMapping, MappingError
from mmioc_rtvp.format.taxonomy import Taxonomy, default_taxonomy_path
from tests.test_builders.test_converters.builders import (CLASSES,
                                                          write_mapping,
                                                          write_text)


def test_starting_taxonomy_file():
    path = default_taxonomy_path()
    taxonomy = Taxonomy.load(path)
    assert len(taxonomy.supercategories) == 14
    assert len(taxonomy.scenes) == 29
    # the names the paper gives (section 3.1.1 / 3.2.1)
    for name in ('metal', 'textile', 'food', 'paper'):
        assert name in taxonomy.supercategories
    assert taxonomy.scene_to_supercategory['steel'] == 'metal'
    assert taxonomy.scene_to_supercategory['aluminum'] == 'metal'
    # the paper: 1-3 scenes per supercategory; every entry says its origin
    with open(path, encoding='utf-8') as f:
        data = json.load(f)
    allowed = {'paper', 'paper-mention', 'design', 'mmioc-mini', 'placeholder'}
    for sup in data['supercategories']:
        assert 1 <= len(sup['scenes']) <= 3
        assert sup['source'] in allowed
        assert all(s['source'] in allowed for s in sup['scenes'])
    # MMIOC-mini's scenes are in it (so its data merges)
    for scene in ('metal coins', 'printed paper', 'wooden table', 'brick wall',
                  'gravel road', 'rock surface'):
        assert taxonomy.has_scene(scene)


def test_taxonomy_check_and_order():
    taxonomy = Taxonomy([('metal', ['steel', 'aluminum']), ('wood', ['wood'])])
    assert taxonomy.check('metal', 'aluminum') is None
    assert taxonomy.check(
        'metl',
        'steel') == ("unknown supercategory 'metl' (did you mean 'metal'?)")
    assert taxonomy.check(
        'metal', 'stel') == ("unknown scene 'stel' (did you mean 'steel'?)")
    assert taxonomy.check('wood', 'steel') == (
        "scene 'steel' belongs to supercategory 'metal', not 'wood'")
    keys = [('wood', 'wood', 'a'), ('metal', 'aluminum', 'a'),
            ('metal', 'steel', 'z'), ('metal', 'steel', 'b')]
    assert sorted(
        keys,
        key=lambda k: taxonomy.sort_key(*k)) == [('metal', 'steel', 'b'),
                                                 ('metal', 'steel', 'z'),
                                                 ('metal', 'aluminum', 'a'),
                                                 ('wood', 'wood', 'a')]
    with pytest.raises(ValueError, match="scene 'steel' appears twice"):
        Taxonomy([('metal', ['steel']), ('iron', ['steel'])])


def test_taxonomy_file_errors(tmp_path):
    bad = write_text(str(tmp_path / 't.json'), '{"supercategories": 3}')
    with pytest.raises(ValueError, match='t.json'):
        Taxonomy.load(bad)
    with pytest.raises(FileNotFoundError):
        Taxonomy.load(str(tmp_path / 'none.json'))


def good_entry(**override):
    entry = dict(CLASSES['scratch'])
    entry.update(override)
    return entry


@pytest.mark.parametrize('classes, message', [
    ({
        's': good_entry(supercategory='metl')
    }, "class 's': unknown supercategory 'metl' (did you mean 'metal'?)"),
    ({
        's': good_entry(scene='moon')
    }, "class 's': unknown scene 'moon'"),
    ({
        's': good_entry(scene='wood')
    }, "class 's': scene 'wood' belongs to supercategory 'wood', not "
     "'metal'"),
    ({
        's': good_entry(texts=[])
    }, "class 's': 'texts' must be a "
     'non-empty list'),
    ({
        's': good_entry(texts=['ok', ' '])
    }, "class 's': 'texts' holds an "
     'empty'),
    ({
        's': {
            k: v
            for k, v in good_entry().items() if k != 'texts'
        }
    }, "class 's': 'texts' must be a non-empty list"),
    ({
        's': good_entry(name='')
    }, "class 's': 'name' must be a non-empty"),
    ({
        's': good_entry(super_category='metal')
    }, "class 's': unknown key 'super_category'"),
    ({
        'a': good_entry(),
        'b': good_entry(texts=['other prompt'])
    }, "class 'b': duplicate name 'scratch on steel' (also the name of "
     "class 'a') with a different texts"),
    ({}, "'classes' is empty"),
])
def test_invalid_mappings(tmp_path, classes, message):
    path = write_mapping(str(tmp_path / 'bad.json'), classes=classes)
    with pytest.raises(MappingError) as info:
        ClassMapping.load(path, Taxonomy.load())
    assert any(message in p for p in info.value.problems), info.value.problems
    assert path in str(info.value)


def test_all_problems_are_listed_and_many_to_one_is_allowed(tmp_path):
    path = write_mapping(
        str(tmp_path / 'm.json'),
        classes={
            'a': good_entry(scene='moon'),
            'b': good_entry(texts=[]),
            'scratches': good_entry(),
            'scratch': good_entry(),
        })
    with pytest.raises(MappingError) as info:
        ClassMapping.load(path, Taxonomy.load())
    assert len(info.value.problems) == 2
    path = write_mapping(
        str(tmp_path / 'ok.json'),
        classes={
            'scratches': good_entry(),
            'scratch': good_entry()
        })
    mapping = ClassMapping.load(path, Taxonomy.load())
    assert mapping.get('scratches') == mapping.get('scratch')
    assert len(mapping.categories(Taxonomy.load())) == 1


def test_duplicate_json_keys_and_yaml(tmp_path):
    entry = json.dumps(good_entry())
    path = write_text(
        str(tmp_path / 'dup.json'),
        f'{{"classes": {{"s": {entry}, "s": {entry}}}}}')
    with pytest.raises(MappingError, match="key 's' appears twice"):
        ClassMapping.load(path, Taxonomy.load())
    with pytest.raises(MappingError, match='not valid JSON'):
        ClassMapping.load(
            write_text(str(tmp_path / 'broken.json'), '{"classes": '),
            Taxonomy.load())
    yaml_path = write_text(
        str(tmp_path / 'm.yaml'), 'default_scene: steel\nclasses:\n'
        '  scratch:\n    supercategory: metal\n    scene: steel\n'
        '    name: scratch on steel\n    texts: [scratch on steel]\n')
    mapping = ClassMapping.load(yaml_path, Taxonomy.load())
    assert mapping.get('scratch').texts == ('scratch on steel', )
    assert mapping.scene_of_group(None) == 'steel'


def test_default_scene_validation_and_groups(tmp_path):
    with pytest.raises(MappingError, match="'default_scene': unknown scene"):
        ClassMapping.from_dict(
            dict(classes=CLASSES, default_scene='moon'), Taxonomy.load())
    mapping = ClassMapping.from_dict(
        dict(
            classes={
                'bottle/crack':
                good_entry(supercategory='plastic', scene='bottle'),
            },
            default_scene={'pill': 'pill'}), Taxonomy.load())
    assert mapping.scene_of_group('pill') == 'pill'
    assert mapping.scene_of_group('bottle') == 'bottle'  # from its classes
    assert mapping.scene_of_group('cable') is None
