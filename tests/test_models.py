"""Parameter counts follow from the zoo's shapes and match the published figures."""

import json

import pytest

from simulator.workload.model import from_hf_config, load_model, zoo_names


@pytest.mark.parametrize("name,params,tol", [
    ("llama2-7b", 6.74e9, 0.005), ("llama2-13b", 13.0e9, 0.01), ("llama2-70b", 68.98e9, 0.01),
    ("gpt3-175b", 174.6e9, 0.01), ("gpt2-small", 124.4e6, 0.01), ("gpt2-xl", 1.558e9, 0.01),
    ("llama3-8b", 8.03e9, 0.01), ("mistral-7b", 7.24e9, 0.01), ("mixtral-8x7b", 46.7e9, 0.01),
])
def test_parameter_counts(name, params, tol):
    assert load_model(name, file="test").params == pytest.approx(params, rel=tol)


def test_mixtral_active_parameters():
    m = load_model("mixtral-8x7b", file="test")
    assert m.active_params == pytest.approx(12.9e9, rel=0.01)


def test_every_zoo_model_loads_and_cites_a_source():
    for name in zoo_names():
        m = load_model(name, file="test")
        assert m.source, name
        assert m.params > 0


def test_hf_config_import_matches_zoo(tmp_path):
    cfg = {"model_type": "llama", "hidden_size": 8192, "num_hidden_layers": 80, "num_attention_heads": 64,
           "num_key_value_heads": 8, "intermediate_size": 28672, "vocab_size": 32000,
           "max_position_embeddings": 4096, "hidden_act": "silu", "tie_word_embeddings": False}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    assert from_hf_config(path, file="w", key="model").params == load_model("llama2-70b", file="t").params


def test_hf_gpt2_config(tmp_path):
    cfg = {"model_type": "gpt2", "n_embd": 768, "n_layer": 12, "n_head": 12, "vocab_size": 50257,
           "n_positions": 1024}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    assert from_hf_config(path, file="w", key="model").params == load_model("gpt2-small", file="t").params
