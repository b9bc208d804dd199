"""`python -m node.commands`: the `clearnode` command line, as the devnet and tests start
nodes without relying on the console script being on the PATH."""

import sys

from node.commands import main

sys.exit(main())
