"""`python -m archforge.cli ...`: the `archforge` command."""

from archforge.cli import main

raise SystemExit(main())
