"""EVM chains: the vault contract, deposit watchers, observations, withdrawals, rotation.

Nothing here credits or debits anyone: clearing does, after quorum.

Two sides. The records, their checks and the watcher's outbox (`deposits`,
`observation`, `withdrawal`, `rotation`, `external`, `eip712`, `validators`, `wire`,
`cursor`, `payouts`) import neither web3 nor eth_account: every node imports them at
start. Nor do the contracts' ABIs read without web3 (`abi`), the rules of relaying a
withdrawal (`withdrawal_relay`), and what a chain node answers, read with its shape
checked (`chain_answers`: logs, headers, receipts, error objects; `rpc_values`: hex),
which the client SDK uses over plain JSON-RPC. The chain client
(`chain`, `vault`, `watcher`, `expiries`, `pricefeed`, `relayer`, `devchain`) imports
web3 at the top, and is imported only where a chain is talked to, since web3 and
eth_account are over a quarter of a node's start-up imports.

What the node calls (chain reads are synchronous: run them with `trio.to_thread.run_sync`):

Per chain, at start
- `chain.connect(url, chain_id)` -> Chain (raises ChainIdMismatch).
- `cursor.CursorStore(path)`; `watcher.Watcher(WatcherConfig(...), store, on_stored).run`
  in a nursery (`await nursery.start(watcher.run)`); `watcher.status` for health.

Deposits (each validator)
- `observation.sign_new_deposits(store, since_seq, tokens, ed25519_key, network_chain_id)`
  -> (last_seq, [SignedObservation], refused); gossip `SignedObservation.encode()`.
- `observation.ObservationPool(network_chain_id, state.validators)`: `.add(decoded)`,
  proposer takes `.get_ready_credits()` (clearing `CollateralCredit` txs); after commit
  `.mark_credited(key)` and `.follow(state.validators)` (the set in force). Keys are
  (chain id, vault, deposit nonce). Stuck keys: `.get_keys_unsigned_by(own_pubkey)` ->
  send a `ReobserveRequest` with the pooled observation's tx hash and log index; a
  validator watching that chain answers it (node/bridge/chains.py).
- External bridges (API): `external.SignedExternalEvent.decode(body)`,
  `verify_external_event(event, state.genesis.external_bridges, network_chain_id)`
  -> observation (node/bridge/api.py serves it), then
  `sign_observation(...)` and the same pool.

Withdrawals (after a block debits a member: `state.pending_withdrawals`)
- `withdrawal.sign_withdrawal_record(record, vault=, epoch=, evm_private_key=)`
  -> WithdrawalSignature; gossip `.encode()`.
- `withdrawal.collect_withdrawal_signatures(auth, vault_set, sigs)` -> SignatureSet;
  `get_relay_json(auth, set)` for the HTTP API; `vault.withdraw(chain, auth, set.get_ordered(),
  sender)`.
- Payouts: `payouts.sign_new_payouts(store, since_seq, key, network_chain_id)` ->
  clearing `WithdrawalPaid` attestations.
- Expiries: `expiries.get_final_stamp(chain, confirmations)` -> head;
  `observe_expiry(chain, vault, record, head)` -> clearing `ExpiryObservation` (sign it
  for `WithdrawalExpired`) once a final block is past the record's expiry and the
  vault never paid it, else None.

Price feeds (the oracle's evm source)
- `pricefeed.FeedReader(url, chain_id, timeout_s).read_prices({symbol: FeedSpec}, max_age_s,
  now_s)` -> ledger prices, or a typed PriceFeedError / FeedUnreachable;
  `deploy_price_feed` / `update_price_feed` on devnets.

Validator set
- `rotation.get_consensus_set(state)` (the clearing state's validators with power, as
  (EVM address, power)), `compute_target_set(vault.get_validator_set(v, block), members)`,
  `Rotation(chain_id, vault, current, target)` with `sign_rotation_message(rotation, key)`
  -> `RotationSignature` (gossip form), `get_rotation_relay_json`, `vault.rotate(...)`;
  `vault.lock_by_signature` for an emergency stop any single validator can pull.
"""
