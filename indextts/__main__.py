"""`python -m indextts`: see indextts.cli."""

from indextts.cli import main

raise SystemExit(main())
