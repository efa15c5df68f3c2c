"""Serving options (`--set serve.<key>=V`): batching limits, the KV cache, preemption, replicas and
disaggregation. Defaults follow vLLM's engine arguments (max_num_seqs 256, block_size 16,
gpu_memory_utilization 0.9, swap_space 4 GiB, recompute preemption) and Sarathi-Serve's token budget (512)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from simulator.config.spec import PositiveInt, Ratio, Size, Spec, validate
from simulator.errors import ConfigError

UNITS = {"ms": 1e-3, "us": 1e-6, "s": 1.0}


class Disaggregation(Spec):
    """Prefill and decode on separate replicas (Splitwise, DistServe): `prefill` + `decode` replicas, each
    optionally on its own system file, the KV cache of each request sent over `link` when its prefill ends."""

    prefill: PositiveInt = Field(description="prefill replicas")
    decode: PositiveInt = Field(description="decode replicas")
    prefill_hw: str | None = Field(None, description="system file of the prefill replicas (default: HW)")
    decode_hw: str | None = Field(None, description="system file of the decode replicas (default: HW)")
    link: str = Field("links/nvlink4.yaml", description="link file (under hwconfigs/) carrying the KV caches")
    prefill_scheduler: Literal["vllm", "sarathi"] = "vllm"


class ServeSpec(Spec):
    max_batch: PositiveInt = Field(256, description="sequences per iteration (vLLM max_num_seqs)")
    max_batched_tokens: PositiveInt | None = Field(
        None, description="prompt tokens per prefill iteration (vLLM; default max(2048, the model's positions))")
    chunk_size: PositiveInt = Field(512, description="token budget per iteration (Sarathi-Serve)")
    block_size: PositiveInt = Field(16, description="tokens per KV block (vLLM)")
    memory_fraction: Ratio = Field(0.9, description="share of device memory for weights + KV (vLLM)")
    preemption: Literal["recompute", "swap"] = "recompute"
    swap_space: Size = Field("4 GiB", description="host memory for swapped KV blocks, per device (vLLM)")
    swap_link: str = Field("links/pcie5.yaml", description="link file (under hwconfigs/) between device and host")
    dp: PositiveInt = Field(1, description="independent replicas behind a round-robin router")
    disaggregation: Disaggregation | None = None
    goodput_attainment: Ratio = Field(0.9, description="SLO attainment the rate sweep asks for (DistServe: 90 %)")


def parse_serve_sets(sets: list[str]) -> tuple[ServeSpec, list[str]]:
    """Split `serve.<key>=V` items from the others and validate them."""
    import yaml

    from simulator.config.loader import set_path

    data: dict[str, Any] = {}
    rest = []
    for item in sets:
        key, sep, value = item.partition("=")
        if key.strip().startswith("serve.") and sep:
            try:
                parsed = yaml.safe_load(value) if value.strip() else None
            except yaml.YAMLError:
                parsed = value
            set_path(data, key.strip()[len("serve."):], parsed, file="--set")
        else:
            rest.append(item)
    return validate(ServeSpec, data, file="--set", prefix="serve"), rest


def parse_slo(text: str | None) -> dict[str, float]:
    """`ttft=200ms,tpot=50ms` -> {'ttft': 0.2, 'tpot': 0.05} (also e2e); times need a unit (s, ms, us)."""
    if not text:
        return {}
    out = {}
    for part in text.split(","):
        key, sep, value = part.strip().partition("=")
        key = key.strip()
        if key not in ("ttft", "tpot", "e2e") or not sep:
            raise ConfigError(f"'{part.strip()}' is not an SLO; allowed: ttft=T, tpot=T, e2e=T with T in s, ms or us "
                              "(e.g. ttft=200ms,tpot=50ms)", file="--slo", key=key or part)
        value = value.strip()
        unit = next((u for u in ("ms", "us", "s") if value.endswith(u)), None)
        try:
            number = float(value[: -len(unit)]) if unit else None
        except ValueError:
            number = None
        if unit is None or number is None or not number > 0:
            raise ConfigError(f"'{value}' is not a positive time; allowed: a number with a unit s, ms or us "
                              "(e.g. 200ms)", file="--slo", key=key)
        out[key] = number * UNITS[unit]
    return out

