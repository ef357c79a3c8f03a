"""``python -m asyncbridge.adapters.perfect21``: the Perfect21 command line."""

from ._cli import main

raise SystemExit(main())
