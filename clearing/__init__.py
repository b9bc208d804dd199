"""The deterministic clearing state machine (no I/O, no clock, no floats).

Its folders are layers, each importing only those below it, so it reads bottom-up:
- clearing/ itself: the records and the state, and the rules default/, governance/ and
  risk/ build on. units.py: typed ints and the rounding helpers (a ``Price`` is
  settlement base units per lot, ``PRICE_SCALE == 1``); genesis.py, assets.py,
  instruments.py: parsed and validated configuration; state.py: ``ClearingState``,
  ``Member``, ``SubAccount``, ``Position`` (writes go through ``get_*_for_write`` so the
  root knows what is dirty), with the governance records it holds beside it
  (governance_proposal.py, governance_changes.py); attestation.py, eip712.py: validator
  Ed25519 quorums and member EIP-712 signatures; merkle.py: account inclusion proofs.
- risk/: portfolio margin. default/ (over risk/): liquidation, the waterfall, the
  default fund. governance/ (over risk/): the rules that apply a passed proposal.
- transition/: what a block does to the state. tx.py: the envelope
  ``[version, kind, ...]`` and ``KINDS``, each kind declared beside its record
  (tx_kind.py's ``TxKind``: its admission, its process step, its priority, who submits
  it, what a refusal spends; ``TRADE_BATCH`` in trade.py, ``TRANSFER`` in transfer.py
  ...); admission.py admits a transaction by its kind's declaration. block.py:
  ``process_block``, which applies the transactions, then END_OF_BLOCK_STEPS (mark to
  market, funding, expiries, liquidations), then EPOCH_STEPS at epoch boundaries.
  root.py: the incremental state root; snapshot.py: whole-state encode and decode.
"""
