# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""HFCLIPTextEncoder on a tiny random CLIP written in the official layout.

No CLIP weights exist on this machine: a small ``CLIPModel`` (text and
vision towers, as ``openai/clip-vit-base-patch32`` is published) and a
``CLIPTokenizer`` over a 26-letter byte-level BPE vocabulary are saved with
``save_pretrained``, and the encoder must reproduce a direct ``transformers``
computation on them.
"""
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import transformers
from mmengine.model import BaseModule

from mmioc_rtvp.models.text_encoders import HFCLIPTextEncoder
from mmioc_rtvp.registry import MODELS
from tests.utils.tiny_clip import tiny_clip_parts as _tiny_clip_parts

REPO_ROOT = Path(__file__).resolve().parents[3]
MAX_POSITIONS = 16
PROJECTION_DIM = 24  # not CLIP's 512: checks it is read from the files
PROMPTS = [
    'scratch on metal', 'metal', 'a b c d e f g h i j k l m n o p q r s t',
    'crack'
]


def tiny_clip_parts():
    return _tiny_clip_parts(PROJECTION_DIM, MAX_POSITIONS)


@pytest.fixture(scope='module')
def clip_dir(tmp_path_factory):
    """A full tiny ``CLIPModel`` + tokenizer saved in the hub layout."""
    tokenizer, config = tiny_clip_parts()
    torch.manual_seed(0)
    model = transformers.CLIPModel(config).eval()
    path = tmp_path_factory.mktemp('tiny_clip')
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path, model, tokenizer


def reference_embeddings(model, tokenizer, prompts):
    """CLIP text features computed by hand from the transformers modules.

    The final hidden state at the first end-of-text token, through the text
    projection, L2-normalised.
    """
    tokens = tokenizer(
        prompts,
        padding=True,
        truncation=True,
        max_length=MAX_POSITIONS,
        return_tensors='pt')
    with torch.no_grad():
        hidden = model.text_model(**tokens).last_hidden_state  # (N, L, C)
        eos = (tokens['input_ids'] == tokenizer.eos_token_id).int()
        eos_pos = eos.argmax(dim=1)  # first end-of-text token
        pooled = hidden[torch.arange(len(prompts)), eos_pos]
        return F.normalize(model.text_projection(pooled), dim=-1)


def test_matches_direct_transformers_computation(clip_dir):
    path, model, tokenizer = clip_dir
    encoder = HFCLIPTextEncoder(str(path))
    assert encoder.embed_dim == PROJECTION_DIM
    assert encoder.max_length == MAX_POSITIONS
    # the long prompt is truncated to MAX_POSITIONS tokens
    assert len(tokenizer(PROMPTS[2])['input_ids']) > MAX_POSITIONS

    out = encoder([PROMPTS[:2] + [''], PROMPTS[2:] + ['']])
    expected = reference_embeddings(model, tokenizer, PROMPTS)
    assert out.shape == (2, 3, PROJECTION_DIM)
    torch.testing.assert_close(out[0, :2], expected[:2], atol=1e-6, rtol=0)
    torch.testing.assert_close(out[1, :2], expected[2:], atol=1e-6, rtol=0)
    torch.testing.assert_close(out[:, 2], torch.zeros(2, PROJECTION_DIM))
    torch.testing.assert_close(out[:, :2].norm(dim=-1), torch.ones(2, 2))
    # and the model's own CLIP text features
    with torch.no_grad():
        tokens = tokenizer(PROMPTS[:2], padding=True, return_tensors='pt')
        features = model.get_text_features(**tokens).pooler_output
    torch.testing.assert_close(
        out[0, :2], F.normalize(features, dim=-1), atol=1e-6, rtol=0)


def test_built_from_config_frozen_and_cached(clip_dir):
    path, _, _ = clip_dir
    encoder = MODELS.build(
        dict(
            type='mmioc_rtvp.HFCLIPTextEncoder', model_name_or_path=str(path)))
    assert isinstance(encoder, HFCLIPTextEncoder)
    assert all(not p.requires_grad for p in encoder.parameters())
    encoder.train()
    assert not encoder.training and not encoder.model.training

    rows = []
    encoder.model.register_forward_pre_hook(
        lambda module, args, kwargs: rows.append(len(kwargs['input_ids'])),
        with_kwargs=True)
    first = encoder([['metal', 'crack'], ['crack', '']])
    assert rows == [2]
    second = encoder([['metal', 'crack'], ['crack', '']])
    assert rows == [2]
    torch.testing.assert_close(first, second)
    encoder([['metal', 'scratch on metal']])
    assert rows == [2, 1]


def test_parent_init_weights_does_not_reinitialise(clip_dir):
    path, _, _ = clip_dir

    class Detector(BaseModule):

        def __init__(self):
            super().__init__()
            self.text_encoder = HFCLIPTextEncoder(str(path))

    detector = Detector()
    before = detector.text_encoder.encode(PROMPTS).clone()
    detector.text_encoder.clear_cache()
    detector.init_weights()
    after = detector.text_encoder.encode(PROMPTS)
    torch.testing.assert_close(after, before, atol=0, rtol=0)


def test_text_only_checkpoint(tmp_path):
    tokenizer, config = tiny_clip_parts()
    text_config = config.text_config
    text_config.projection_dim = PROJECTION_DIM
    torch.manual_seed(1)
    model = transformers.CLIPTextModelWithProjection(text_config).eval()
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)

    encoder = HFCLIPTextEncoder(str(tmp_path))
    tokens = tokenizer(
        PROMPTS,
        padding=True,
        truncation=True,
        max_length=MAX_POSITIONS,
        return_tensors='pt')
    with torch.no_grad():
        expected = F.normalize(model(**tokens).text_embeds, dim=-1)
    torch.testing.assert_close(
        encoder.encode(PROMPTS), expected, atol=1e-6, rtol=0)


def test_hub_id_resolved_from_local_cache_only(clip_dir, tmp_path):
    path, model, tokenizer = clip_dir
    # the hub cache layout: models--{org}--{name}/refs/main + snapshots/<sha>
    repo = tmp_path / 'models--openai--clip-vit-base-patch32'
    sha = '0123456789abcdef0123456789abcdef01234567'
    (repo / 'refs').mkdir(parents=True)
    (repo / 'refs' / 'main').write_text(sha)
    shutil.copytree(path, repo / 'snapshots' / sha)

    encoder = HFCLIPTextEncoder(
        'openai/clip-vit-base-patch32', cache_dir=str(tmp_path))
    torch.testing.assert_close(
        encoder.encode(PROMPTS),
        reference_embeddings(model, tokenizer, PROMPTS),
        atol=1e-6,
        rtol=0)


def test_missing_hub_id_fails_with_instructions(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        HFCLIPTextEncoder(
            'openai/clip-vit-base-patch32', cache_dir=str(tmp_path))
    message = str(info.value)
    assert "'openai/clip-vit-base-patch32'" in message
    assert 'local_files_only=True' in message
    assert 'on a machine with internet' in message
    assert 'MiniLMTextEncoder' in message
    assert str(tmp_path) in message  # the cache that was searched
    assert '\n' not in message


def test_missing_local_dir_names_it(tmp_path):
    missing = str(tmp_path / 'no' / 'such' / 'clip')
    with pytest.raises(FileNotFoundError, match='MiniLMTextEncoder') as info:
        HFCLIPTextEncoder(missing)
    assert repr(missing) in str(info.value)


def test_empty_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match='has no config.json'):
        HFCLIPTextEncoder(str(tmp_path))


def test_dir_without_weights_lists_its_files(clip_dir, tmp_path):
    path, _, _ = clip_dir
    for name in os.listdir(path):
        if not name.endswith('.safetensors'):
            shutil.copy(path / name, tmp_path / name)
    with pytest.raises(
            FileNotFoundError,
            match='lacks model or tokenizer '
            'files.*config.json') as info:
        HFCLIPTextEncoder(str(tmp_path))
    assert '\n' not in str(info.value)


def test_dir_without_tokenizer_is_an_error(clip_dir, tmp_path):
    # transformers itself would build an empty-vocabulary tokenizer here
    path, _, _ = clip_dir
    for name in ('config.json', 'model.safetensors'):
        shutil.copy(path / name, tmp_path / name)
    with pytest.raises(FileNotFoundError, match='no tokenizer files'):
        HFCLIPTextEncoder(str(tmp_path))


def test_checkpoint_missing_text_projection_is_an_error(tmp_path):
    tokenizer, config = tiny_clip_parts()
    text_config = config.text_config
    text_config.projection_dim = PROJECTION_DIM
    # a text tower without projection: text_projection.weight is absent
    transformers.CLIPTextModel(text_config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match='text_projection.weight'):
        HFCLIPTextEncoder(str(tmp_path))


def test_not_a_clip_model(tmp_path):
    transformers.BertConfig(
        vocab_size=10,
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=8).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="model_type 'bert', not a CLIP"):
        HFCLIPTextEncoder(str(tmp_path))


def test_missing_weights_fail_fast_without_offline_env(tmp_path):
    """No HF_HUB_OFFLINE: still no download attempt, and a quick error."""
    script = textwrap.dedent("""
        import time
        from mmioc_rtvp.models.text_encoders import HFCLIPTextEncoder
        start = time.perf_counter()
        try:
            HFCLIPTextEncoder('openai/clip-vit-base-patch32')
        except FileNotFoundError as err:
            print('ERROR', err)
        print('SECONDS', time.perf_counter() - start)
        """)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE',
                       'HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE')
    }
    env['HF_HOME'] = str(tmp_path / 'hf_home')  # an empty cache
    env['PYTHONPATH'] = os.pathsep.join(
        filter(None, [str(REPO_ROOT), env.get('PYTHONPATH')]))
    result = subprocess.run([sys.executable, '-c', script],
                            env=env,
                            cwd=tmp_path,
                            capture_output=True,
                            text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    error = [line for line in lines if line.startswith('ERROR ')]
    seconds = [line for line in lines if line.startswith('SECONDS ')]
    assert len(error) == 1, result.stdout
    assert 'openai/clip-vit-base-patch32' in error[0]
    assert 'MiniLMTextEncoder' in error[0]
    assert float(seconds[0].split()[1]) < 10.0
