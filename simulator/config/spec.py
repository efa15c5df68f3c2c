"""Typed, validated configuration models: the base class, quantity field types, and error formatting.

Every hardware and workload section is a `Spec` (pydantic, unknown keys rejected, immutable). Quantity fields
use the annotated types below, so a value such as "1 GHz" is parsed by `simulator.quantity` in one place.
"""

from __future__ import annotations

import typing
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    ValidationError,
    model_validator,
)

from simulator import quantity
from simulator.errors import ConfigError, allowed, did_you_mean

MAX_INT = 2**53


class Spec(BaseModel):
    """Base of every config section: unknown keys are errors, values are immutable once validated, and types are
    strict: a boolean is not a number, an integer field takes only integers, floats must be finite."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, strict=True,
                              allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _bounded_integers(cls, data: Any) -> Any:
        """Integers beyond 2^53 (exact as floats, safe in int64 products) are not hardware or workload values."""
        if isinstance(data, dict):
            for key, value in data.items():
                if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
                    raise ValueError(f"{key}: {value} is too large; allowed: at most 2^53 = {MAX_INT}")
        return data


def _quantity(dimension: str):
    def convert(value: Any) -> float:
        return quantity.parse(value, dimension)
    return BeforeValidator(convert)


def _in_base_unit(unit: str):
    """JSON/YAML dumps write a quantity with its base unit ('1000000000.0 Hz'), so a dumped config loads back."""
    return PlainSerializer(lambda value: f"{value!r} {unit}" if value else 0, when_used="json")


def _power_of_two(value: int) -> int:
    if value <= 0 or value & (value - 1):
        raise ValueError(f"{value} must be a power of two")
    return value


Frequency = Annotated[float, _quantity("frequency"), _in_base_unit("Hz"), Field(ge=1e6, le=1e12)]   # 1 MHz-1 THz
Time = Annotated[float, _quantity("time"), _in_base_unit("s"), Field(ge=0)]
Size = Annotated[float, _quantity("size"), _in_base_unit("B"), Field(gt=0)]
Bandwidth = Annotated[float, _quantity("bandwidth"), _in_base_unit("B/s"), Field(gt=0)]
Energy = Annotated[float, _quantity("energy"), _in_base_unit("J"), Field(ge=0)]
EnergyPerBit = Annotated[float, _quantity("energy_per_bit"), _in_base_unit("J/bit"), Field(ge=0)]
Power = Annotated[float, _quantity("power"), _in_base_unit("W"), Field(ge=0)]
TransferRate = Annotated[float, _quantity("transfer_rate"), _in_base_unit("T/s"), Field(gt=0)]
Cycles = Annotated[float, _quantity("cycles"), Field(ge=0, le=2**32)]     # a timing, not a whole run
Ratio = Annotated[float, _quantity("ratio"), Field(gt=0, le=1)]
PositiveInt = Annotated[int, Strict(), Field(gt=0, le=MAX_INT)]
DTypeName = Literal["fp32", "tf32", "bf16", "fp16", "fp8", "int8", "int4",          # simulator/lowering/ops.py
                    "int2", "int1", "fp6", "fp4", "mxfp8", "mxfp6", "mxfp4"]
PositiveFloat = Annotated[float, Field(gt=0)]        # a rate or count per cycle: finite (Spec) and > 0
Pair = Annotated[tuple[PositiveInt, PositiveInt],
                 BeforeValidator(lambda v: tuple(v) if isinstance(v, list) else v)]  # YAML has lists, not tuples
PowerOfTwo = Annotated[int, AfterValidator(_power_of_two)]


def validate(model: type[Spec], data: Any, *, file: str, prefix: str = "") -> Spec:
    """Validate `data` against `model`; on failure raise one ConfigError naming file, key path and what is allowed."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _config_error(model, exc, file, prefix) from None


def _config_error(model: type[BaseModel], exc: ValidationError, file: str, prefix: str) -> ConfigError:
    errors = exc.errors(include_url=False)
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = [str(p) for p in err["loc"] if not str(p).startswith("function-")]
    key = ".".join(([prefix] if prefix else []) + loc)
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        fields = _fields_at(model, loc[:-1])
        return ConfigError(f"unknown key '{loc[-1]}'{did_you_mean(loc[-1], fields)}; {allowed(fields)}",
                           file=file, key=key)
    if kind == "missing":
        return ConfigError("required key is missing", file=file, key=key)
    if kind == "literal_error":
        return ConfigError(f"{err.get('input')!r} is not allowed; {msg.replace('Input should be', 'expected')}",
                           file=file, key=key)
    msg = msg.removeprefix("Value error, ").replace("Input should be", "must be")
    if isinstance(err.get("input"), dict):        # a whole-document check: its message names the keys
        field, sep, rest = msg.partition(": ")
        if sep and field.split(".")[0] in err["input"] and " " not in field:   # 'key.path: what is wrong'
            return ConfigError(rest, file=file, key=".".join(p for p in (key, field) if p))
        return ConfigError(msg, file=file, key=key)
    return ConfigError(f"{msg} (got {err.get('input')!r})", file=file, key=key)


def _fields_at(model: Any, path: list[str]) -> list[str]:
    """Field names of the nested model reached by following `path` (dict keys and list indices skipped)."""
    ann: Any = model
    parts = list(path)
    while parts:
        if typing.get_origin(ann) in (dict, list, tuple):
            ann = typing.get_args(ann)[-1]
            parts.pop(0)
            continue
        found = _model_in(ann)
        if found is None:
            return []
        field = found.model_fields.get(parts.pop(0))
        if field is None:
            return []
        ann = _container_or_model(field.annotation)
    found = _model_in(ann)
    return sorted(found.model_fields) if found is not None else []


def _container_or_model(annotation: Any) -> Any:
    """Unwrap Optional/Annotated down to a dict/list container or a model class."""
    if typing.get_origin(annotation) in (dict, list, tuple):
        return annotation
    for arg in typing.get_args(annotation):
        if typing.get_origin(arg) in (dict, list, tuple):
            return arg
    return annotation


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
