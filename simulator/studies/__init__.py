"""Studies above the simulator: reports and validations that regenerate reports/ and docs/ tables, each a small
module on the public API (`python -m simulator.studies.<name>`). Model packages never import from here."""
