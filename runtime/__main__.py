"""`python -m runtime` is the same as the `runtime` command."""

from runtime.cli import main

raise SystemExit(main())
