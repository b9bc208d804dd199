"""The deterministic clearing state machine (no I/O, no clock, no floats).

Table of contents:
- units.py: typed ints and the rounding helpers. A ``Price`` is settlement base
  units per lot (``PRICE_SCALE == 1``).
- genesis.py, assets.py, instruments.py: parsed and validated configuration.
- state.py: ``ClearingState``, ``Member``, ``SubAccount``, ``Position``. Writes go
  through ``get_*_for_write`` so the root knows what is dirty.
- tx.py: the envelope ``[version, kind, ...]`` and ``KINDS``, each kind declared beside
  its record (tx_kind.py's ``TxKind``: its admission, its process step, its priority,
  who submits it, what a refusal spends; ``TRADE_BATCH`` in trade.py, ``TRANSFER`` in
  transfer.py ...). admission.py admits a transaction by its kind's declaration.
- block.py: ``process_block``. It applies the transactions, then
  END_OF_BLOCK_STEPS (mark to market, funding, expiries, liquidations), then
  EPOCH_STEPS at epoch boundaries.
- root.py, merkle.py: the incremental state root and account inclusion proofs.
  snapshot.py: whole-state encode and decode.
- attestation.py, eip712.py: validator Ed25519 quorums and member EIP-712
  signatures.
"""
