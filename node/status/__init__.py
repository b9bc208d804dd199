"""The operator's status page and its JSON: validators, blocks, chains, members' health."""
