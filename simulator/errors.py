"""User-facing errors: bad input ends the CLI with exit code 2 and one message, never a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """An error caused by the user's input (a file, a key, a value); the CLI prints it and exits 2."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None):
        self.file = file
        self.key = key
        self.detail = message
        super().__init__(self.format())

    def format(self) -> str:
        where = ": ".join(p for p in (self.file, self.key) if p)
        return f"{where}: {self.detail}" if where else self.detail


class ConfigError(UserError):
    """A hardware or workload configuration value that is missing, unknown or impossible."""


class InternalError(Exception):
    """A broken invariant or an unexpected exception: a bug in the simulator, not in the input; the CLI exits 3."""


BUG_REPORT = ("this is a bug in the simulator, not in your input; please report it with the command line "
              "and input files (set XPUSIM_DEBUG=1 for the traceback)")


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ' (did you mean X?)' suffix for the closest choice, or '' when nothing is close."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def allowed(choices: Iterable[str]) -> str:
    """A short 'allowed: a, b, c' list for error messages."""
    items = sorted(str(c) for c in choices)
    if len(items) > 12:
        items = items[:12] + ["..."]
    return "allowed: " + ", ".join(items)
