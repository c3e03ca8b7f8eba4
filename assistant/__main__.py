"""`python -m assistant`: the command line, which lives in the top layer (channels.cli).

The one module of this package allowed to import channels: it only starts the CLI.
"""

from channels.cli import main

raise SystemExit(main())
