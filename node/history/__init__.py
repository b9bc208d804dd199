"""A member's durable history: every event naming it, derived from committed blocks and
kept in the node's SQLite file with the block that made it (see docs/member.md)."""
