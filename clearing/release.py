"""What this release is, as clearing sees it: the upgrades in place it carries.

``MIGRATIONS`` lists, in the order the chain went through them, every upgrade whose
state this release reads, each with its migration; the last is this release's own, the
one that starts it (clearing/upgrade.py: a release applies the blocks from its own
upgrade's height on, and halts at the next upgrade's). A release that changes what the
state holds or how it is encoded adds its upgrade here, with the migration from the
previous release's state; this one is the first of the network and carries none.
"""

from __future__ import annotations

from clearing.upgrade import Migration

MIGRATIONS: tuple[Migration, ...] = ()
