"""Studies built on the public API (simulate, serve): reports and sweeps."""
