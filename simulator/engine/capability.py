"""What a unit model offers beyond `cost(op)`: stats and outputs ask a model through this small protocol (a
`capabilities` attribute) instead of checking its type."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Capabilities:
    """in_memory: the unit computes inside its memory's banks (its bytes are not traffic on the memory interface);
    pim_rows: it opens row buffers of its own beside the normal ones (dual row buffer), whose standby energy counts
    while it works."""

    in_memory: bool = False
    pim_rows: bool = False


NONE = Capabilities()


def capabilities(model: object) -> Capabilities:
    """A model's capabilities (none when it declares none)."""
    return getattr(model, "capabilities", NONE)
