"""`python -m node.reference`: rewrites the operator guide's generated tables and
docs/openapi.json (node/reference/tables.py)."""

import sys

from node.reference.tables import main

sys.exit(main())
