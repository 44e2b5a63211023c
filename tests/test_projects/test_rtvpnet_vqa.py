# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Tests of projects/rtvpnet_vqa without a language model: question
parsing, the deterministic answers, the structured prompt, the templated
QA set, the exact-match metric (against hand computations) and bad input
in a batch."""
import glob
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from projects.rtvpnet_vqa.rtvpnet_vqa import (
    BadInputError, CategoryHierarchy, Detection, DetectionVQA,
    ImageDetections, StructuredPromptBuilder, VQAExactMatch, location_of,
    make_qa_set, parse_question, rule_answer)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CATEGORIES = [
    dict(id=3, name='crack in wood', supercategory='wood',
         scene='wooden table', texts=['crack in wood', 'a cracked plank']),
    dict(id=5, name='hole in paper', supercategory='paper',
         scene='printed paper', texts=['hole in paper']),
    dict(id=7, name='crack in brick', supercategory='construction',
         scene='brick wall', texts=['crack in brick']),
    dict(id=9, name='missing part in metal', supercategory='metal',
         scene='metal coins', texts=['missing part in metal']),
]


@pytest.fixture(scope='module')
def hierarchy():
    return CategoryHierarchy(CATEGORIES)


def image_dets(dets, width=300, height=300):
    return ImageDetections('img.jpg', width, height, [
        Detection(name, box, score) for name, box, score in dets])


def test_location_of_grid_cells():
    # centre (50, 50) of 300 x 300: first third in x and y
    assert location_of((40, 40, 60, 60), 300, 300) == 'top left'
    assert location_of((140, 140, 160, 160), 300, 300) == 'centre'
    assert location_of((250, 120, 290, 170), 300, 300) == 'right'
    assert location_of((100, 250, 120, 299), 300, 300) == 'bottom'
    # a box reaching past the image border is clamped to the last cell
    assert location_of((280, 280, 400, 400), 300, 300) == 'bottom right'
    # non-square image: x thirds of 600, y thirds of 90
    assert location_of((390, 0, 420, 20), 600, 90) == 'top right'


@pytest.mark.parametrize('question, qtype, classes, inverted', [
    ('Is there a defect in this image?', 'presence', None, False),
    ('are there any anomalies', 'presence', None, False),
    ('Is this part OK?', 'presence', None, True),
    ('Is there a crack in the image?', 'presence',
     ('crack in wood', 'crack in brick'), False),
    ('Is there any hole in paper?', 'presence', ('hole in paper', ), False),
    ('Is there a bubble?', 'open', None, False),
    ('How many instances of crack in wood are there?', 'count',
     ('crack in wood', ), False),
    ('How many cracks are there?', 'count',
     ('crack in wood', 'crack in brick'), False),
    ('how many missing parts can you see', 'count',
     ('missing part in metal', ), False),
    ('How many defects are there?', 'count', None, False),
    ('How many a cracked plank are there?', 'count', ('crack in wood', ),
     False),
    ('Which defect is in this image?', 'identify', None, False),
    ("What's wrong?", 'identify', None, False),
    ('Where is the hole in paper?', 'locate', ('hole in paper', ), False),
    ('Where is it?', 'locate', None, False),
    ('How many bubbles are there?', 'open', None, False),
    ('Why did the wood crack?', 'open', None, False),
])
def test_parse_question(hierarchy, question, qtype, classes, inverted):
    parsed = parse_question(question, hierarchy)
    assert (parsed.type, parsed.classes, parsed.inverted) == \
        (qtype, classes, inverted)


@pytest.mark.parametrize('question', ['', '   ', None])
def test_empty_question_is_one_line_naming_it(hierarchy, question):
    with pytest.raises(BadInputError, match='empty question') as err:
        parse_question(question, hierarchy)
    assert '\n' not in str(err.value)


def test_rule_answers_by_hand(hierarchy):
    image = image_dets([
        ('crack in wood', (10, 10, 50, 50), 0.9),      # top left
        ('crack in brick', (200, 200, 290, 290), 0.8),  # bottom right
        ('crack in wood', (130, 20, 170, 60), 0.5),     # top
    ])

    def ask(q):
        return rule_answer(parse_question(q, hierarchy), image)

    assert ask('Is there a defect?') == 'yes'
    assert ask('Is this part OK?') == 'no'
    assert ask('Is there a crack?') == 'yes'
    assert ask('Is there a hole in paper?') == 'no'
    assert ask('How many instances of crack in wood are there?') == '2'
    assert ask('How many cracks are there?') == '3'
    assert ask('How many instances of hole in paper are there?') == '0'
    assert ask('Which defect is in this image?') == \
        'crack in brick; crack in wood'
    # the best-scoring crack in wood is the top-left one
    assert ask('Where is the crack in wood?') == 'top left'
    assert ask('Where is the crack in brick?') == 'bottom right'
    assert ask('Where is the hole in paper?') == 'not found'
    assert ask('Why?') is None
    empty = image_dets([])
    assert rule_answer(parse_question('Is there a defect?', hierarchy),
                       empty) == 'no'
    assert rule_answer(parse_question('Is it OK?', hierarchy), empty) == 'yes'
    assert rule_answer(parse_question('What is wrong?', hierarchy),
                       empty) == 'none'


def test_prompt_carries_detections_and_hierarchy(hierarchy):
    image = image_dets([('hole in paper', (10.4, 20, 30, 40.6), 0.87),
                        ('crack in wood', (100, 100, 150, 160), 0.41)])
    prompt = StructuredPromptBuilder()(
        image, 'Where is the hole in paper?', hierarchy.names, hierarchy,
        rule_answer='top left')
    lines = prompt.splitlines()
    first = next(line for line in lines if line.startswith('1. '))
    assert first == ('1. hole in paper | supercategory: paper | scene: '
                     'printed paper | box [10, 20, 30, 41] | location: top '
                     'left | score 0.87')
    assert lines.index(first) + 1 == lines.index(next(
        line for line in lines if line.startswith('2. crack in wood')))
    assert 'Short answer computed from the detections: top left.' in lines
    assert lines[-2:] == ['Question: Where is the hole in paper?', 'Answer:']
    assert 'Defect classes searched: crack in wood, hole in paper, ' \
        'crack in brick, missing part in metal.' in lines
    short = StructuredPromptBuilder(max_detections=1)(image, 'q')
    assert '2. ' not in short and \
        '... and 1 more detections with lower scores.' in short
    assert 'Detections: none' in StructuredPromptBuilder()(
        image_dets([]), 'q')


def annotation_dict():
    """Two images, hand-checked answers below; one bad annotation."""
    images = [dict(id=1, file_name='a.jpg', width=300, height=300),
              dict(id=2, file_name='b.jpg', width=300, height=300),
              dict(id=3, file_name='c.jpg', width=300, height=300),
              dict(id=4, file_name='d.jpg', width=300, height=300)]
    anns = [
        # image 1: two cracks in wood (top left, bottom) + a hole (right)
        dict(id=1, image_id=1, category_id=3, bbox=[10, 10, 40, 40]),
        dict(id=2, image_id=1, category_id=3, bbox=[130, 220, 30, 40]),
        dict(id=3, image_id=1, category_id=5, bbox=[250, 130, 20, 30]),
        # image 2: nothing; image 3: unknown category -> skipped
        dict(id=4, image_id=3, category_id=99, bbox=[1, 1, 5, 5]),
        dict(id=5, image_id=3, category_id=5, bbox=[1, 1, 5, 5]),
        # image 4: a box without area -> rejected, image skipped
        dict(id=6, image_id=4, category_id=5, bbox=[1, 1, 0, 5]),
        dict(id=7, image_id=42, category_id=5, bbox=[1, 1, 5, 5]),
    ]
    return dict(images=images, annotations=anns, categories=CATEGORIES)


def test_qa_set_answers_by_hand():
    qa = make_qa_set(annotation_dict(), seed=0, source='hand.json')
    by_image = {}
    for q in qa['questions']:
        by_image.setdefault(q['file_name'], []).append(
            (q['type'], q['question'], q['answer']))
    a = by_image['a.jpg']
    assert a[:2] == [
        ('presence', 'Is there a defect in this image?', 'yes'),
        ('identify', 'Which defect is in this image?',
         'crack in wood; hole in paper')]
    counts = [(q, ans) for t, q, ans in a if t == 'count']
    assert counts[:2] == [
        ('How many instances of crack in wood are there?', '2'),
        ('How many instances of hole in paper are there?', '1')]
    # one absent class, answer 0
    assert len(counts) == 3 and counts[2][1] == '0'
    assert counts[2][0] in (
        'How many instances of crack in brick are there?',
        'How many instances of missing part in metal are there?')
    # locate only for the class with one box
    assert [(q, ans) for t, q, ans in a if t == 'locate'] == [
        ('Where is the hole in paper?', 'right')]
    b = by_image['b.jpg']
    assert [ans for _, _, ans in b[:3]] == ['no', 'none', '0']
    assert len(b) == 3  # presence, identify, one absent-class count
    assert set(by_image) == {'a.jpg', 'b.jpg'}
    rep = qa['report']
    assert rep['annotations'] == 7 == rep['annotations_used'] + \
        rep['annotations_rejected']
    assert rep['annotations_rejected'] == 3
    assert rep['images'] == 4 and rep['images_used'] == 2 and \
        rep['images_skipped_bad_annotation'] == 2
    assert rep['locate_skipped_multiple'] == 1
    assert rep['questions'] == len(qa['questions']) == 3 + 2 + 3 + 1
    assert sorted(rep['rejected']) == [
        'annotation 4: unknown category_id 99',
        "annotation 6: bbox [1, 1, 0, 5] has no area",
        'annotation 7: unknown image_id 42']
    assert qa['categories'] == CATEGORIES
    # deterministic from the seed
    assert make_qa_set(annotation_dict(), seed=0)['questions'] == \
        qa['questions']


def test_qa_set_refuses_empty_data():
    with pytest.raises(BadInputError, match='x.json: no images'):
        make_qa_set(dict(categories=CATEGORIES, images=[]), source='x.json')


def test_exact_match_per_type_by_hand():
    metric = VQAExactMatch()
    samples = [
        dict(question_type='presence', gt_answer='yes', pred_answer='Yes.'),
        dict(question_type='presence', gt_answer='no', pred_answer='yes'),
        dict(question_type='presence', gt_answer='no', pred_answer=None),
        dict(question_type='count', gt_answer='2', pred_answer=' 2 '),
        dict(question_type='locate', gt_answer='top left',
             pred_answer='top  left'),
        dict(question_type='locate', gt_answer='top left',
             pred_answer='left'),
        dict(question_type='locate', gt_answer='centre',
             pred_answer='centre'),
    ]
    metric.process(None, samples[:4])
    metric.process(None, samples[4:])
    out = metric.evaluate(len(samples))
    # presence 1/3, count 1/1, locate 2/3; overall 4/7
    assert out['vqa/accuracy'] == pytest.approx(4 / 7)
    assert out['vqa/accuracy/presence'] == pytest.approx(1 / 3)
    assert out['vqa/accuracy/count'] == 1.0
    assert out['vqa/accuracy/locate'] == pytest.approx(2 / 3)
    assert out['vqa/num/presence'] == 3 and out['vqa/num/locate'] == 3
    assert 'vqa/accuracy/identify' not in out
    assert out['vqa/num_missing'] == 1


def write_image(path, size=(60, 80)):
    cv2.imwrite(str(path), np.full((*size, 3), 128, np.uint8))
    return str(path)


def test_batch_with_bad_items_finishes_the_others(tmp_path, hierarchy):
    good = write_image(tmp_path / 'good.png')
    broken = tmp_path / 'broken.jpg'
    broken.write_bytes(b'not an image at all')
    calls = []

    def detect(path):
        calls.append(path)
        if not osp.isfile(path):
            raise BadInputError(f'{path}: no such image file')
        img = cv2.imread(path)
        if img is None:
            raise BadInputError(f'{path}: cannot read the image')
        height, width = img.shape[:2]
        return ImageDetections(path, width, height, [
            Detection('hole in paper', (60, 5, 75, 15), 0.9)])

    vqa = DetectionVQA(detect, hierarchy)
    results = vqa.ask([
        (good, 'Is there a defect?'),
        (good, ''),
        (str(broken), 'Is there a defect?'),
        (str(tmp_path / 'missing.png'), 'Where is it?'),
        (good, 'Where is the hole in paper?'),
    ])
    assert [r.rule_answer for r in results] == \
        ['yes', None, None, None, 'top right']
    assert results[1].error == "question '': empty question"
    assert results[2].error.startswith(f'{broken}: cannot read the image')
    assert results[3].error == \
        f'{tmp_path / "missing.png"}: no such image file'
    assert all('\n' not in r.error for r in results if r.error)
    assert results[4].num_detections == 1 and results[4].answer == 'top right'
    # each image is detected once, the empty question never reaches it
    assert calls == [good, str(broken), str(tmp_path / 'missing.png')]


def test_hierarchy_from_ann_file_errors(tmp_path):
    with pytest.raises(BadInputError, match='no such annotation file'):
        CategoryHierarchy.from_ann_file(str(tmp_path / 'none.json'))
    bad = tmp_path / 'bad.json'
    bad.write_text('{not json')
    with pytest.raises(BadInputError, match='not an MMIOC annotation file'):
        CategoryHierarchy.from_ann_file(str(bad))


@pytest.mark.parametrize('path', sorted(glob.glob(osp.join(
    REPO_ROOT, 'projects', 'rtvpnet_vqa', 'configs', '*.py'))))
def test_shipped_configs_load(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports['imports'] == \
        ['projects.rtvpnet_vqa.rtvpnet_vqa']
    assert cfg.vqa.language_model.type == 'FrozenCausalLM'
    assert 'DeepSeek-R1-Distill-Qwen' in \
        cfg.vqa.language_model.model_name_or_path
    assert cfg.model.type == 'RTVPNet'


class _EchoLM:
    """A stand-in language model: answers 'lm says' to every prompt and
    keeps the prompts it read."""

    def __init__(self):
        self.prompts = []

    def generate(self, prompts, max_new_tokens=None):
        from projects.rtvpnet_vqa.rtvpnet_vqa.frozen_causal_lm import \
            LMAnswer
        self.prompts += prompts
        return [LMAnswer(text='lm says', raw='lm says', num_prompt_tokens=9,
                         num_new_tokens=2) for _ in prompts]


@pytest.mark.parametrize('include_rule_answer', [True, False])
def test_every_answer_names_its_source(hierarchy, include_rule_answer):
    """Rules alone: ``answer_source='rules'``; with a language model a
    checkable question's answer is the model's, marked as given the rules'
    answer when its prompt stated it; an open question has no rule answer
    and the model's answer is its own."""
    dets = image_dets([('hole in paper', (60, 5, 75, 15), 0.9)])
    items = [('img.jpg', 'Is there a defect?'), ('img.jpg', 'Why?')]
    rules_only = DetectionVQA(lambda path: dets, hierarchy).ask(items)
    assert [(r.answer, r.answer_source) for r in rules_only] == [
        ('yes', 'rules'), (None, None)]
    lm = _EchoLM()
    with_lm = DetectionVQA(
        lambda path: dets, hierarchy, lm,
        StructuredPromptBuilder(
            include_rule_answer=include_rule_answer)).ask(items)
    given = 'language_model_given_rules' if include_rule_answer else \
        'language_model'
    assert [(r.rule_answer, r.lm_answer, r.lm_saw_rule_answer,
             r.answer_source) for r in with_lm] == [
        ('yes', 'lm says', include_rule_answer, given),
        (None, 'lm says', False, 'language_model')]
    # the flag tells the truth about the prompt the model read
    assert ('Short answer computed from the detections: yes.' in
            lm.prompts[0]) == include_rule_answer
    record = with_lm[0].to_json()
    assert record['answer'] == 'lm says'
    assert record['answer_source'] == given
    assert record['rule_answer'] == 'yes'
