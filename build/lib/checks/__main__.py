"""python -m checks: the same as the backprop-check command."""

from checks.cli import main

raise SystemExit(main())
