"""The epoch solvency report in the node.

At every epoch boundary each validator extracts the report's inputs from the
committed state (inputs.py, on the trio loop: fast), proves them in a worker
process (worker.py: slow, off the loop), signs the report hash twice (for
`clearnode verify` and for clearing's ReportCommitment) and gossips its
signatures (gossip.py). With a quorum the node's proposals carry the hash into
a block; complete reports are kept on disk (store.py), served over HTTP
(api.py) and to peers, from whom a node missing a committed report fetches it
(sync.py). service.py ties it together.
"""
