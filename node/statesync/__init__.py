"""State sync: a node with an empty store starts from a peer's snapshot, trusted from the
genesis as a light client trusts a report's root (verify.py), instead of replaying every
block. serve.py offers a node's snapshots, fetch.py takes one before the node starts,
records.py is their wire."""
