"""Transformer architectures: the model zoo in `workloads/models/` and import of a Hugging Face config.json.

Parameter counts follow from the shapes alone (no lookup), so a new model is one YAML file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from simulator.config.loader import load
from simulator.config.spec import PositiveInt, Spec, validate
from simulator.errors import ConfigError, allowed, did_you_mean



class MoE(Spec):
    experts: PositiveInt
    top_k: PositiveInt

    @model_validator(mode="after")
    def _k(self) -> MoE:
        if self.top_k > self.experts:
            raise ValueError(f"top_k ({self.top_k}) must not exceed experts ({self.experts})")
        return self


class ModelSpec(Spec):
    """Shapes of a decoder-only transformer."""

    version: int = 1
    kind: Literal["model"] = "model"
    name: str
    source: str = ""
    hidden: PositiveInt
    layers: PositiveInt
    heads: PositiveInt
    kv_heads: PositiveInt | None = None
    head_dim: PositiveInt | None = None
    ffn: PositiveInt = Field(description="MLP inner size (per expert for MoE)")
    vocab: PositiveInt
    max_position: PositiveInt
    norm: Literal["layernorm", "rmsnorm"] = "rmsnorm"
    activation: Literal["gelu", "relu", "silu"] = "silu"
    gated_mlp: bool = True
    position: Literal["rotary", "learned", "alibi"] = "rotary"
    bias: bool = False
    tied_embeddings: bool = False
    moe: MoE | None = None

    @model_validator(mode="after")
    def _shapes(self) -> ModelSpec:
        if self.kv_heads is not None and self.heads % self.kv_heads:
            raise ValueError(f"heads ({self.heads}) must be a multiple of kv_heads ({self.kv_heads})")
        if self.head_dim is None and self.hidden % self.heads:
            raise ValueError(f"hidden ({self.hidden}) is not divisible by heads ({self.heads}); set head_dim")
        return self

    @property
    def n_kv_heads(self) -> int:
        return self.kv_heads or self.heads

    @property
    def d_head(self) -> int:
        return self.head_dim or self.hidden // self.heads

    # Parameter counts -------------------------------------------------------------------------------------
    @property
    def attention_params(self) -> int:
        h, d = self.hidden, self.d_head
        q, kv = self.heads * d, self.n_kv_heads * d
        bias = (q + 2 * kv + h) if self.bias else 0
        return h * (q + 2 * kv) + q * h + bias

    @property
    def mlp_params(self) -> int:
        """One MLP (one expert)."""
        h, f = self.hidden, self.ffn
        mats = 3 if self.gated_mlp else 2
        bias = ((2 if self.gated_mlp else 1) * f + h) if self.bias else 0
        return mats * h * f + bias

    @property
    def norm_params(self) -> int:
        return self.hidden * (2 if self.norm == "layernorm" else 1)

    @property
    def layer_params(self) -> int:
        experts = self.moe.experts if self.moe else 1
        router = self.hidden * self.moe.experts if self.moe else 0
        return self.attention_params + experts * self.mlp_params + router + 2 * self.norm_params

    @property
    def embedding_params(self) -> int:
        pos = self.max_position * self.hidden if self.position == "learned" else 0
        return self.vocab * self.hidden + pos

    @property
    def lm_head_params(self) -> int:
        return 0 if self.tied_embeddings else self.vocab * self.hidden

    @property
    def params(self) -> int:
        return self.embedding_params + self.layers * self.layer_params + self.norm_params + self.lm_head_params

    @property
    def active_params(self) -> int:
        """Parameters used per token (MoE: top-k experts only)."""
        if not self.moe:
            return self.params
        idle = (self.moe.experts - self.moe.top_k) * self.mlp_params
        return self.params - self.layers * idle


def zoo() -> list[Path]:
    """Model files by precedence: user folders (XPUSIM_PATH, any depth), then the shipped zoo."""
    from simulator.resources import data_root, user_dirs

    found = [p for d in user_dirs() for p in sorted(d.rglob("*.yaml")) if p.parent.name == "models"]
    return found + sorted((data_root() / "workloads" / "models").glob("*.yaml"))


def zoo_names() -> list[str]:
    return sorted({p.stem for p in zoo()})


def load_model(ref: str, *, file: str, key: str = "model") -> ModelSpec:
    """A zoo name (`llama2-7b`), a model YAML path, or a Hugging Face config.json path."""
    path = Path(ref)
    if ref.endswith(".json"):
        base = Path(file).parent
        path = path if path.is_absolute() or path.exists() else base / path
        return from_hf_config(path, file=file, key=key)
    if ref.endswith((".yaml", ".yml")):
        doc = load(path if path.exists() else Path(file).parent / path, kinds=("model",))
        return validate(ModelSpec, doc.data, file=str(doc.path))
    path = next((p for p in zoo() if p.stem == ref), None)
    if path is None:
        raise ConfigError(f"unknown model '{ref}'{did_you_mean(ref, zoo_names())}; {allowed(zoo_names())} "
                          "(or a config.json / model YAML path)", file=file, key=key)
    doc = load(path, kinds=("model",))
    return validate(ModelSpec, doc.data, file=str(path))


# model_type values mapped below: GPT-2 and OPT by their own keys, the LLaMA-style families (rotary, RMSNorm,
# gated MLP, optional GQA and MoE) by the LLaMA keys.
HF_FAMILIES = ("gpt2", "opt", "llama", "mistral", "mixtral", "qwen2")
HF_ACTIVATIONS = {"silu": "silu", "swiglu": "silu", "gelu": "gelu", "gelu_new": "gelu", "gelu_pytorch_tanh": "gelu",
                  "relu": "relu"}


def from_hf_config(path: Path, *, file: str, key: str) -> ModelSpec:
    """Map a local Hugging Face config.json (the HF_FAMILIES below) to a ModelSpec."""
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config.json not found: {path}", file=file, key=key) from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a directory; allowed: a Hugging Face config.json file", file=file,
                          key=key) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"invalid JSON at line {exc.lineno}: {exc.msg}", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read ({exc.__class__.__name__})", file=str(path)) from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"expected a JSON object of model settings, got a {type(cfg).__name__}", file=str(path))
    arch = cfg.get("model_type")
    if not isinstance(arch, str) or arch.lower() not in HF_FAMILIES:
        raise ConfigError(f"model_type {arch!r} is not a supported decoder-only family; "
                          f"{allowed(HF_FAMILIES)}", file=str(path), key="model_type")
    arch = arch.lower()
    get = cfg.get
    try:
        if arch in ("gpt2",):
            data = dict(hidden=get("n_embd"), layers=get("n_layer"), heads=get("n_head"),
                        ffn=get("n_inner") or 4 * get("n_embd"), vocab=get("vocab_size"),
                        max_position=get("n_positions"), norm="layernorm", activation="gelu", gated_mlp=False,
                        position="learned", bias=True, tied_embeddings=True)
        elif arch == "opt":
            data = dict(hidden=get("hidden_size"), layers=get("num_hidden_layers"),
                        heads=get("num_attention_heads"), ffn=get("ffn_dim"), vocab=get("vocab_size"),
                        max_position=get("max_position_embeddings"), norm="layernorm",
                        activation=HF_ACTIVATIONS.get(get("activation_function", "relu"), "relu"),
                        gated_mlp=False, position="learned", bias=True,
                        tied_embeddings=get("tie_word_embeddings", True))
        else:
            moe = None
            if get("num_local_experts"):
                moe = {"experts": get("num_local_experts"), "top_k": get("num_experts_per_tok", 2)}
            data = dict(hidden=get("hidden_size"), layers=get("num_hidden_layers"),
                        heads=get("num_attention_heads"), kv_heads=get("num_key_value_heads"),
                        head_dim=get("head_dim"), ffn=get("intermediate_size"), vocab=get("vocab_size"),
                        max_position=get("max_position_embeddings"), norm="rmsnorm",
                        activation=HF_ACTIVATIONS.get(get("hidden_act", "silu"), "silu"), gated_mlp=True,
                        position="rotary", bias=bool(get("attention_bias", False)),
                        tied_embeddings=bool(get("tie_word_embeddings", False)), moe=moe)
    except TypeError as exc:
        raise ConfigError(f"incomplete config.json: {exc}", file=str(path)) from None
    except AttributeError as exc:   # e.g. a string where a mapping of settings was expected
        raise ConfigError(f"malformed config.json: {exc}", file=str(path)) from None
    data = {k: v for k, v in data.items() if v is not None}
    data["name"] = cfg.get("_name_or_path") or path.parent.name or path.stem
    data["source"] = f"Hugging Face config.json at {path}"
    return validate(ModelSpec, data, file=str(path))
