"""A workload: which model, which phase, which batch of requests, which dtypes, which parallelism and software.

Decode: every request has its own KV length. A uniform batch has `context_len` cached tokens, so the new token
attends to context_len + 1 keys (itself included); a trace row's `seq_len` is the sequence length including the
new token (NeuPIMs' convention), so it attends to seq_len keys. Prefill: `batch` prompts of `prompt_len` tokens, or
with a trace one prompt of `seq_len` tokens per row. Mixed: the decode
batch plus one chunk of `chunk_len` prompt tokens (chunked prefill) of a request already `prompt_len` long.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from simulator.config.loader import Document, load
from simulator.config.spec import DTypeName, PositiveInt, Spec, validate
from simulator.errors import ConfigError, allowed
from simulator.hardware.system import doc_errors
from simulator.lowering.ops import DTYPE_BYTES
from simulator.workload.model import ModelSpec, load_model
from simulator.workload.trace import read_trace

MAX_REQUESTS = 2**16      # requests in one step: beyond any serving batch, and bounded memory for per-request arrays


class Quantisation(Spec):
    """How quantised weights are scaled (docs/formats.md)."""

    group_size: PositiveInt | None = Field(
        128, description="integer weights sharing one fp16 scale along K (weight-only); null: one per row")


class DTypes(Spec):
    """Storage dtypes of weights, activations and the KV cache, and the matrix units' compute dtype."""

    weights: DTypeName = "fp16"
    activations: DTypeName = "fp16"
    kv: DTypeName = "fp16"
    compute: DTypeName | None = Field(
        None, description="dtype of the matrix units; default the wider of weights and activations (narrower "
                          "weights are dequantised: weight-only quantisation)")
    quantisation: Quantisation = Quantisation()


class Schedule(Spec):
    """Scheduling options of the mapper and executor."""

    memoise: bool = Field(True, description="simulate identical layers once and reuse the result")
    sub_batch_interleaving: bool = Field(
        False, description="NeuPIMs sub-batch interleaving (decode, per-request attention): split the batch in two "
                           "halves per KV channel and overlap one half's attention (PIM) with the other half's "
                           "GEMMs (NPU); each half re-reads the layer's weights")
    congestion_aware: bool = Field(
        False, description="collectives of concurrent device groups share links max-min fairly (else alpha-beta of "
                           "one group)")


class Parallel(Spec):
    """The parallel plan: tp x pp x dp devices; ep expert-parallel ranks among the dp replicas (MoE)."""

    tp: PositiveInt = Field(1, description="tensor parallel: heads, MLP and vocabulary split this many ways")
    pp: PositiveInt = Field(1, description="pipeline parallel: layers split into this many stages")
    dp: PositiveInt = Field(1, description="data parallel: replicas, each with its share of the batch")
    ep: PositiveInt = Field(1, description="expert parallel (MoE): experts split over this many replicas")
    microbatches: PositiveInt = Field(1, description="micro-batches of each replica's batch through the pipeline")
    expert_skew: float = Field(0.0, ge=0, description="token routing: expert i gets a share ~ (i + 1)^-skew "
                                                      "(0: uniform)")


class Placement(Spec):
    """Where ops run and tensors live, beyond the system's op-class mapping."""

    ops: dict[str, str] = Field(default_factory=dict, description="op kind or class, optionally after a phase "
                                "('decode.attention', 'softmax') -> unit")
    homes: dict[Literal["weights", "kv_cache"], str] = Field(
        default_factory=dict, description="tensor -> the memory that holds it (default: the unit's own memory)")


class WorkloadSpec(Spec):
    version: int = 1
    kind: Literal["workload"] = "workload"
    name: str
    source: str = ""
    model: str
    phase: Literal["prefill", "decode", "mixed"] = "decode"
    batch: PositiveInt = 1
    prompt_len: PositiveInt = 128
    context_len: PositiveInt = 128
    chunk_len: PositiveInt = 512
    trace: str | None = None
    requests: PositiveInt | None = None
    layers: PositiveInt | None = None
    tp: PositiveInt = 1
    pp: PositiveInt = 1
    parallel: Parallel = Parallel()
    placement: Placement = Placement()
    dtype: DTypes = DTypes()
    implementation: Literal["fused", "eager-pytorch", "unfused"] = "fused"
    execution: Literal["cuda-graph", "eager", "serving"] = Field(
        "cuda-graph", description="how the host drives a GPU's kernels (simulator/gpu/execution.py): one CUDA "
                                  "graph per step, eager PyTorch launches, or a serving engine with per-step host time")
    scope: Literal["model", "layers"] = Field(
        "model", description="model: the whole step (embedding, decoder layers, final norm, LM head); layers: the "
                             "decoder layers only, as the NeuPIMs artifact simulates a step")
    schedule: Schedule = Schedule()

    @field_validator("dtype", mode="before")
    @classmethod
    def _one_dtype(cls, value: Any) -> Any:
        """`dtype: bf16` sets weights, activations and KV alike."""
        if isinstance(value, str):
            if value not in DTYPE_BYTES:
                raise ValueError(f"unknown dtype {value!r}; {allowed(DTYPE_BYTES)}")
            return {"weights": value, "activations": value, "kv": value}
        return value

    @model_validator(mode="before")
    @classmethod
    def _plan(cls, data: Any) -> Any:
        """Top-level `tp`/`pp` and `parallel.tp`/`parallel.pp` are one setting: copy whichever is given to both."""
        if not isinstance(data, dict) or not isinstance(data.get("parallel", {}), dict):
            return data
        data, plan = dict(data), dict(data.get("parallel") or {})
        for key in ("tp", "pp"):
            if key in plan and key in data and plan[key] != data[key]:
                raise ValueError(f"{key}={data[key]} and parallel.{key}={plan[key]} disagree; set one of them")
            value = plan.get(key, data.get(key, 1))
            data[key] = plan[key] = value
        data["parallel"] = plan
        return data

    def unused_keys(self) -> dict[str, bool]:
        """Keys this step does not read: batch and context_len with a trace (its rows are the requests), context_len
        on a prefill, prompt_len on a decode or on a prefill from a trace (its seq_len are the prompts)."""
        return {"batch": self.trace is not None, "context_len": self.trace is not None or self.phase == "prefill",
                "prompt_len": self.phase == "decode" or (self.phase == "prefill" and self.trace is not None)}

    @model_validator(mode="after")
    def _requests(self) -> WorkloadSpec:
        if self.requests is not None and self.trace is None:
            raise ValueError("'requests' selects rows of a 'trace'; set trace or use batch")
        given = self.model_fields_set
        unused = self.unused_keys()
        for key in ("batch", "prompt_len"):
            if key in given and unused[key]:
                why = "the trace gives the requests" if self.trace is not None else "a decode step has no prompt"
                raise ValueError(f"{key}: {key} is not used here ({why}); remove it")
        if "context_len" in given and unused["context_len"] and self.trace is not None:
            raise ValueError("context_len: context_len is not used with a trace (its seq_len column gives each "
                             "request's length); remove it")
        if self.trace is None and self.batch > MAX_REQUESTS:
            raise ValueError(f"batch: {self.batch} requests in one step is beyond the limit of {MAX_REQUESTS}")
        if self.schedule.sub_batch_interleaving:
            if self.phase != "decode" or self.implementation != "unfused":
                raise ValueError("schedule.sub_batch_interleaving needs phase: decode and implementation: unfused "
                                 "(per-request attention ops to split between the sub-batches)")
            if self.pp > 1 or self.parallel.microbatches > 1:
                raise ValueError("schedule.sub_batch_interleaving runs with pp: 1 and one micro-batch")
            if self.requests == 1 or (self.trace is None and self.batch < 2):
                raise ValueError("schedule.sub_batch_interleaving needs at least 2 requests")
        return self


@dataclass(frozen=True)
class Workload:
    """A validated workload with its model resolved and its per-request lengths as arrays."""

    spec: WorkloadSpec
    model: ModelSpec
    kv_lens: np.ndarray          # keys attended by each request's newest token (prefill: prompt_len)
    channels: np.ndarray | None  # decode trace: the PIM channel holding each request's KV cache
    path: Path
    resolved: dict[str, Any]

    @property
    def layers(self) -> int:
        return self.spec.layers or self.model.layers

    @property
    def batch(self) -> int:
        return len(self.kv_lens)

    @property
    def new_tokens(self) -> int:
        """Tokens processed in this step."""
        s = self.spec
        if s.phase == "prefill":
            return int(self.kv_lens.sum())
        if s.phase == "mixed":
            return self.batch + s.chunk_len
        return self.batch

    @property
    def generated_tokens(self) -> int:
        """Tokens this step produces (one per sequence that samples)."""
        return self.batch + (1 if self.spec.phase == "mixed" else 0)


def load_workload(path: str | Path, overrides: dict[str, Any] | None = None) -> Workload:
    doc = load(path, overrides, kinds=("workload",))
    return build_workload(doc)


def build_workload(doc: Document) -> Workload:
    file = str(doc.path)
    with doc_errors(doc, prefix="workload"):
        spec = validate(WorkloadSpec, _overridden_plan(doc), file=file)
        model = load_model(spec.model, file=file)
        kv, channels = _lengths(spec, doc)
        _check_fits_model(spec, model, kv, file)
        _check_plan(spec, model, len(kv), file)
    return Workload(spec, model, kv, channels, doc.path, doc.data)


def _overridden_plan(doc: Document) -> Any:
    """A `--set` of tp/pp (top-level or under parallel) sets both places, so it overrides the file's value."""
    data, given = doc.data, {}
    for key, value in doc.overrides.items():
        if key in ("tp", "pp"):
            given[key] = value
        elif key in ("parallel.tp", "parallel.pp"):
            given[key.split(".")[1]] = value
        elif key == "parallel" and isinstance(value, dict):
            given.update({k: v for k, v in value.items() if k in ("tp", "pp")})
    if given and isinstance(data, dict) and isinstance(data.get("parallel") or {}, dict):
        data = {**data, **given, "parallel": {**(data.get("parallel") or {}), **given}}
    return data


def _lengths(spec: WorkloadSpec, doc: Document) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-request lengths: prefill prompts (a trace's seq_len are its prompts), or decode KV lengths."""
    if spec.trace is not None:
        trace_path = Path(spec.trace)
        if not trace_path.is_absolute():
            trace_path = doc.path.parent / trace_path
        seq, ch = read_trace(trace_path, limit=spec.requests)
        if len(seq) > MAX_REQUESTS:
            raise ConfigError(f"{len(seq)} requests in one step is beyond the limit of {MAX_REQUESTS}; set "
                              f"requests", file=str(doc.path), key="requests")
        return seq, (ch if spec.phase != "prefill" else None)
    if spec.phase == "prefill":
        return np.full(spec.batch, spec.prompt_len, dtype=np.int64), None
    return np.full(spec.batch, spec.context_len + 1, dtype=np.int64), None


def _check_fits_model(spec: WorkloadSpec, model: ModelSpec, kv: np.ndarray, file: str) -> None:
    longest = int(kv.max()) if len(kv) else 0
    if spec.phase == "mixed":
        longest = max(longest, spec.prompt_len + spec.chunk_len)
    if longest > model.max_position:
        key = "trace" if spec.trace else ("prompt_len" if spec.phase != "decode" else "context_len")
        raise ConfigError(f"sequence length {longest} exceeds the model's maximum of {model.max_position} "
                          f"positions ({model.name})", file=file, key=key)
    # query heads split evenly; KV heads split, or are replicated when tp is a multiple of them (GQA)
    kv = model.n_kv_heads
    for name, n, ok in (("heads", model.heads, model.heads % spec.tp == 0),
                        ("kv heads", kv, kv % spec.tp == 0 or spec.tp % kv == 0)):
        if not ok:
            raise ConfigError(f"tp={spec.tp} does not divide the model's {n} {name} ({model.name}); "
                              f"allowed: a divisor of {n}", file=file, key="tp")
    if spec.layers is not None and spec.layers > model.layers:
        raise ConfigError(f"layers={spec.layers} but {model.name} has {model.layers}; allowed: 1 to {model.layers}",
                          file=file, key="layers")
    if spec.pp > (spec.layers or model.layers):
        raise ConfigError(f"pp={spec.pp} exceeds the {spec.layers or model.layers} layers", file=file, key="pp")


def _check_plan(spec: WorkloadSpec, model: ModelSpec, requests: int, file: str) -> None:
    """dp and micro-batches split the batch; ep splits the experts over the dp replicas."""
    plan = spec.parallel
    if plan.dp * plan.microbatches > 1 and spec.phase == "mixed":
        raise ConfigError("dp and microbatches split the batch of a prefill or decode step; allowed: dp: 1 and "
                          "microbatches: 1 with phase: mixed", file=file, key="parallel")
    if plan.dp * plan.microbatches > requests:
        raise ConfigError(f"dp x microbatches = {plan.dp * plan.microbatches} exceeds the {requests} requests of "
                          f"the batch; allowed: at most {requests}", file=file, key="parallel")
    if plan.ep > 1:
        if model.moe is None:
            raise ConfigError(f"ep={plan.ep} needs a mixture-of-experts model ({model.name} has no experts); "
                              f"allowed: ep: 1", file=file, key="parallel.ep")
        experts = model.moe.experts
        if experts % plan.ep or plan.dp % plan.ep:
            raise ConfigError(f"ep={plan.ep} must divide the {experts} experts and dp={plan.dp}; allowed: a common "
                              f"divisor of {experts} and {plan.dp}", file=file, key="parallel.ep")
