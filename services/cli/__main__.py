"""`python -m services.cli ...`: the same as the `switchboard` script, for a checkout without
the script installed (a plain `pip install -e` or a container with the source only)."""

from .main import main

raise SystemExit(main())
