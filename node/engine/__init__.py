"""Our consensus engine's host: the runtime that starts a node on it, the driver between
the engine and the network, the consensus loop, the repairs' requests and the WAL's
compaction. CometBFT's counterpart is node/cometbft/; what both share lies below them."""
