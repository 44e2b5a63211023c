# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The language-model path of projects/rtvpnet_vqa, end to end, with a tiny
random Qwen2 (the architecture of DeepSeek-R1-Distill-Qwen) and a tiny
word-level tokenizer built offline: frozen, the prompt carries the
detections, max_new_tokens respected, a batch of questions, a missing
model fails fast, and tools/ask.py on a tiny RTVPNet checkpoint."""
import os.path as osp
import time

import pytest
import torch
import transformers
from mmengine.optim import build_optim_wrapper
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from projects.rtvpnet_vqa.rtvpnet_vqa import (
    BadInputError, CategoryHierarchy, Detection, DetectionVQA,
    FrozenCausalLM, ImageDetections, StructuredPromptBuilder)
from tests.test_projects.test_rtvpnet_vqa import CATEGORIES
from tests.test_tools.conftest import one_thread  # noqa: F401 (fixture)
from tests.test_tools.conftest import write_tiny_config
from tests.utils.scripts import load_script

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CORPUS = [
    StructuredPromptBuilder().instruction,
    'Image: Defect classes searched: Detections: none best first',
    'supercategory: scene: box location: score Question: Answer:',
    'Short answer computed from the detections: yes no',
    'top left right bottom centre not found pixels x',
    'Is there a defect in this image? How many instances of are there?',
    'Which defect is in this image? Where is the',
    ' '.join(t for c in CATEGORIES for t in c['texts']),
    ' '.join(c['scene'] + ' ' + c['supercategory'] for c in CATEGORIES),
    ' '.join(str(i) for i in range(400)) + ' . , [ ] | ( ) -',
]


def save_tiny_qwen2(path, seed: int = 0) -> str:
    """A 2-layer random Qwen2ForCausalLM + a WordLevel tokenizer (no end
    of sequence token: generation always uses the whole budget)."""
    tok = Tokenizer(models.WordLevel(unk_token='[UNK]'))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(CORPUS, trainers.WordLevelTrainer(
        special_tokens=['[PAD]', '[UNK]']))
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token='[UNK]', pad_token='[PAD]')
    config = transformers.Qwen2Config(
        vocab_size=tok.get_vocab_size(), hidden_size=32,
        intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=1024,
        bos_token_id=None, eos_token_id=None,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True)
    torch.manual_seed(seed)
    model = transformers.Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = None
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


@pytest.fixture(scope='module')
def qwen_dir(tmp_path_factory):
    return save_tiny_qwen2(tmp_path_factory.mktemp('tiny_qwen2'))


@pytest.fixture(scope='module')
def lm(qwen_dir, one_thread):
    return FrozenCausalLM(qwen_dir, max_new_tokens=4, batch_size=2)


def test_language_model_is_frozen(lm):
    params = list(lm.lm_parameters())
    assert params and not any(p.requires_grad for p in params)
    assert not lm.language_model.training
    lm.train()
    assert not lm.language_model.training
    # out of the module tree: no optimizer or checkpoint holds its weights
    assert list(lm.parameters()) == [] and lm.state_dict() == {}
    holder = torch.nn.ModuleDict(dict(head=torch.nn.Linear(3, 2), lm=lm))
    wrapper = build_optim_wrapper(
        holder, dict(optimizer=dict(type='AdamW', lr=1e-3)))
    in_optimizer = {id(p) for g in wrapper.optimizer.param_groups
                    for p in g['params']}
    assert in_optimizer == {id(p) for p in holder['head'].parameters()}
    assert in_optimizer.isdisjoint(id(p) for p in params)
    before = [p.detach().clone() for p in params]
    lm.generate(['Is there a defect in this image? Answer:'])
    assert all(p.grad is None for p in params)
    assert all(torch.equal(a, b) for a, b in zip(before, params))


@pytest.mark.parametrize('budget', [1, 3, 6])
def test_max_new_tokens_is_the_budget(lm, budget):
    answer = lm.generate(['Where is the hole in paper? Answer:'],
                         max_new_tokens=budget)[0]
    # no end-of-sequence token in this vocabulary: the whole budget is used
    assert answer.num_new_tokens == budget
    assert 1 <= len(answer.raw.split()) <= budget
    assert answer.num_prompt_tokens == 9


def detect_fixed(path):
    """Fixed detections (the tests of the detector are elsewhere)."""
    return ImageDetections(path, 300, 300, [
        Detection('hole in paper', (250, 130, 270, 160), 0.87, 'paper',
                  'printed paper'),
        Detection('crack in wood', (10, 10, 50, 50), 0.42, 'wood',
                  'wooden table')])


def test_prompt_reaches_the_model_with_the_detections(lm, tmp_path):
    seen = []
    hook = lm.language_model.get_input_embeddings().register_forward_hook(
        lambda mod, args, out: seen.append(args[0].clone()))
    try:
        vqa = DetectionVQA(detect_fixed, CategoryHierarchy(CATEGORIES), lm)
        result = vqa.ask([(str(tmp_path / 'a.png'),
                           'Where is the hole in paper?')])[0]
    finally:
        hook.remove()
    assert result.error is None and result.rule_answer == 'right'
    # the first forward reads the whole prompt: decode what the model read
    read = lm.tokenizer.decode(seen[0][0])
    for words in ('1 . hole in paper | supercategory : paper | scene : '
                  'printed paper | box [ 250 , 130 , 270 , 160 ] | '
                  'location : right | score 0 . 87',
                  '2 . crack in wood', 'computed from the detections : '
                  'right', 'Question : Where is the hole in paper ?'):
        assert words in read, words
    assert read == ' '.join(lm.tokenizer.tokenize(result.prompt))
    assert result.num_new_tokens == 4 and result.lm_answer


def test_batch_of_questions_matches_one_by_one(qwen_dir, one_thread,
                                               tmp_path):
    items = [(str(tmp_path / 'a.png'), q) for q in (
        'Is there a defect in this image?', 'Which defect is in this image?',
        'Where is the crack in wood?', 'Why is the paper torn?', '')]
    hierarchy = CategoryHierarchy(CATEGORIES)
    batched = DetectionVQA(detect_fixed, hierarchy, FrozenCausalLM(
        qwen_dir, max_new_tokens=5, batch_size=4)).ask(items)
    single = DetectionVQA(detect_fixed, hierarchy, FrozenCausalLM(
        qwen_dir, max_new_tokens=5, batch_size=1)).ask(items)
    assert [r.question_type for r in batched] == \
        ['presence', 'identify', 'locate', 'open', None]
    assert batched[4].error == "question '': empty question"
    assert batched[4].lm_answer is None
    # left padding of the batch changes nothing
    assert [r.lm_answer for r in batched] == [r.lm_answer for r in single]
    assert all(r.num_new_tokens == 5 for r in batched[:4])
    assert batched[3].rule_answer is None and batched[3].answer == \
        batched[3].lm_answer


def test_missing_language_model_fails_fast(tmp_path, monkeypatch):
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    missing = str(tmp_path / 'no_such_model')
    for name, what in ((missing, 'no such directory'),
                       ('deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B',
                        'neither a directory nor a hub id')):
        start = time.time()
        with pytest.raises(BadInputError) as err:
            FrozenCausalLM(name, cache_dir=str(tmp_path / 'hub'))
        assert time.time() - start < 5
        msg = str(err.value)
        assert '\n' not in msg and repr(name) in msg and what in msg
        assert 'hf download deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B' in msg
    (tmp_path / 'empty').mkdir()
    with pytest.raises(BadInputError, match='has no config.json'):
        FrozenCausalLM(str(tmp_path / 'empty'))


@pytest.fixture(scope='module')
def tiny_vqa(mini_workspace, tmp_path_factory):
    """A VQA config over a tiny RTVPNet (128 px, random) and a checkpoint
    of it (random weights)."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmioc_rtvp.registry import MODELS
    tmp = tmp_path_factory.mktemp('tiny_vqa')
    mini = str(mini_workspace / 'data' / 'mmioc_mini')
    tiny = write_tiny_config(tmp, mini)
    cfg_path = str(tmp / 'tiny_vqa.py')
    base = osp.join(REPO_ROOT, 'projects', 'rtvpnet_vqa', 'configs',
                    '_base_', 'vqa_deepseek.py')
    with open(cfg_path, 'w') as f:
        f.write(f'_base_ = [{tiny!r}, {base!r}]\nvqa = dict(score_thr=0.0)\n')
    cfg = Config.fromfile(cfg_path)
    init_default_scope('mmioc_rtvp')
    torch.manual_seed(0)
    ckpt = str(tmp / 'tiny.pth')
    # a training checkpoint carries its dataset's meta (seen classes)
    torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict(),
                    meta=dict(dataset_meta=dict(classes=('seen', )))), ckpt)
    return cfg_path, ckpt


def test_ask_cli_end_to_end(qwen_dir, one_thread, mini_workspace, tiny_vqa,
                            tmp_path, monkeypatch, capsys):
    """tools/ask.py on a tiny random RTVPNet checkpoint and the tiny Qwen2:
    one good image with two questions, an empty question, an unreadable
    image; then a language model path that does not exist."""
    monkeypatch.chdir(mini_workspace)
    cfg_path, ckpt = tiny_vqa
    image = sorted((mini_workspace / 'data' / 'mmioc_mini' / 'images')
                   .rglob('*.jpg'))[0]
    broken = tmp_path / 'broken.jpg'
    broken.write_bytes(b'\xff\xd8 truncated')
    batch = tmp_path / 'batch.jsonl'
    batch.write_text(f'{{"image": "{broken}", "question": "Is it OK?"}}\n'
                     f'{{"image": "{image}", "question": "Why?"}}\n'
                     'not json\n')
    ask = load_script('projects/rtvpnet_vqa/tools/ask.py', 'vqa_ask')
    code = ask.main([cfg_path, ckpt, str(image), 'Is there a defect?', '',
                     'How many defects are there?', '--lm', qwen_dir,
                     '--max-new-tokens', '2', '--batch', str(batch),
                     '--show-prompt'])
    out, err = capsys.readouterr()
    assert code == 1, err
    assert out.count('  lm (2 tokens): ') == 3
    assert 'rule: yes' in out or 'rule: no' in out
    assert 'Detections (' in out or 'Detections: none' in out
    bad = [line for line in err.splitlines() if 'bad item' in line]
    assert len(bad) == 3
    assert any("question '': empty question" in line for line in bad)
    assert any(f'{broken}: cannot read the image' in line for line in bad)
    assert any(f'{batch}:3: not' in line for line in bad)
    assert 'ask.py: 3 answered, 3 bad' in out
    # every answer names its source
    assert out.count('[computed by rules from the detections]') == 2
    assert out.count('[generated by the language model (its prompt stated '
                     'the rule answer as a fact)]') == 2
    assert out.count('[generated by the language model]') == 1  # "Why?"
    assert out.count('  answer from: language model (given the rule '
                     'answer)') == 2
    # a language model path that does not exist: one line, within seconds
    start = time.time()
    code = ask.main([cfg_path, ckpt, str(image), 'Is there a defect?',
                     '--lm', str(tmp_path / 'nowhere')])
    out, err = capsys.readouterr()
    assert code == 2 and time.time() - start < 10
    assert err.count('\n') == 1 and str(tmp_path / 'nowhere') in err


def test_qa_set_and_eval_cli(qwen_dir, one_thread, mini_workspace, tiny_vqa,
                             tmp_path, monkeypatch, capsys):
    """make_qa_set.py on MMIOC-mini's open val annotations, then
    eval_vqa.py of the tiny checkpoint on its first questions, with the
    language model scored too; the printed accuracies are those of the
    written answers."""
    import json

    from projects.rtvpnet_vqa.rtvpnet_vqa import normalise
    monkeypatch.chdir(mini_workspace)
    cfg_path, ckpt = tiny_vqa
    make = load_script('projects/rtvpnet_vqa/tools/make_qa_set.py',
                       'vqa_make_qa_set')
    qa_file = str(tmp_path / 'qa.json')
    assert make.main(['data/mmioc_mini/annotations/open_val.json',
                      qa_file]) == 0
    out = capsys.readouterr().out
    with open(qa_file) as f:
        qa = json.load(f)
    rep = qa['report']
    assert rep['annotations'] == rep['annotations_used'] > 0
    assert f"make_qa_set: {rep['questions']} questions" in out
    assert {q['type'] for q in qa['questions']} == \
        {'presence', 'identify', 'count', 'locate'}
    evaluate = load_script('projects/rtvpnet_vqa/tools/eval_vqa.py',
                           'vqa_eval')
    out_file = str(tmp_path / 'eval.json')
    assert evaluate.main([cfg_path, ckpt, qa_file, '--img-dir',
                          'data/mmioc_mini/images', '--limit', '7', '--lm',
                          qwen_dir, '--out', out_file]) == 0
    printed = capsys.readouterr().out
    with open(out_file) as f:
        result = json.load(f)
    answers = result['answers']
    assert len(answers) == 7 and all(a['error'] is None for a in answers)
    for name in ('rule', 'lm'):
        hits = [normalise(a[f'{name}_answer']) == normalise(a['answer'])
                for a in answers]
        assert result['metrics'][f'{name}/accuracy'] == \
            pytest.approx(sum(hits) / 7)
    assert all(a['lm_answer'] is not None for a in answers)
    assert f"  all            7{result['metrics']['rule/accuracy']:8.3f}" \
        f"{result['metrics']['lm/accuracy']:8.3f}" in printed


def test_chat_template_and_reasoning(qwen_dir, one_thread):
    """A tokenizer's chat template wraps the prompt (DeepSeek-R1's does);
    its reasoning block is not part of the answer."""
    lm = FrozenCausalLM(qwen_dir, max_new_tokens=2)
    lm.tokenizer.chat_template = (
        "{% for m in messages %}Question : {{ m['content'] }}{% endfor %}"
        '{% if add_generation_prompt %} Answer :{% endif %}')
    assert lm.format_prompt('where') == 'Question : where Answer :'
    seen = []
    hook = lm.language_model.get_input_embeddings().register_forward_hook(
        lambda mod, args, out: seen.append(args[0].clone()))
    try:
        lm.generate(['Where is the hole in paper ?'])
    finally:
        hook.remove()
    assert lm.tokenizer.decode(seen[0][0]) == \
        'Question : Where is the hole in paper ? Answer :'
    plain = FrozenCausalLM(qwen_dir, use_chat_template=False)
    plain.tokenizer.chat_template = lm.tokenizer.chat_template
    assert plain.format_prompt('where') == 'where'
    strip = FrozenCausalLM.strip_reasoning
    assert strip('<think>\nthe hole is right</think>\n\nright') == 'right'
    assert strip('right') == 'right'
