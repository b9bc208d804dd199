"""`clearnode devnet`: the whole system on one machine.

Real anvil chains with vaults and test tokens, real deposits and relayed
withdrawals, validator-signed observations and withdrawal authorisations, a
seeded market (members, a venue, an oracle price path with a crash), solvency
reports built and verified with proofs/. The validators' clearing state machines
run in this process, each applying every block itself (see orchestrator.py).
"""
