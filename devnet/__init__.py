"""`clearnode devnet`: the whole system on one machine.

Real anvil chains with vaults and test tokens, real deposits and relayed
withdrawals, validator-signed observations and withdrawal authorisations, a
seeded market (members, a venue, an oracle price path with a crash), solvency
reports built and verified with proofs/. The validators' clearing state machines
run in this process, each applying every block itself (see orchestrator.py).

The venue, members and relayer use well-known keys (clearnode/client/sandbox_keys.py, anvil's dev
account): anyone can sign with them. `clearnode devnet` says so before it starts.
"""

PUBLIC_KEYS_WARNING = (
    "WARNING: the devnet's venue, members and relayer use PUBLIC TEST KEYS (derived from\n"
    "WARNING: public names, anvil's dev account). Anyone can sign with them: never hold\n"
    "WARNING: value on them. A network for use is made by `clearnode init` (fresh keys)."
)
