"""Studies: reports and sweeps built only on the public API (simulate)."""
