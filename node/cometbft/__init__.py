"""CometBFT as the second consensus engine: the pinned release, its ABCI 2.0 types and
the server that puts the clearing app behind them.

A network runs one engine. On `clearnode` (the embedded default) the node orders
blocks itself over libp2p (`consensus/`, `node/engine/driver.py`); on `cometbft` a CometBFT
process orders them and drives the same `ClearingApp` through ABCI, so both give the
same state root for the same blocks.
"""
