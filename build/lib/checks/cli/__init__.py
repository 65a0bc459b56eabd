"""backprop-check, the command-line app: `app` (options, the run), `sweep` (the
networks a run checks), `progress` (stderr), `summary` (the table)."""

from checks.cli.app import main

__all__ = ["main"]
