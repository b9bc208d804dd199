"""A validator's duties on one configured chain: watch the vault, attest what is final,
read the vault for the rotation and expiry duties (`VaultReader`), look up a deposit
re-observation asks about (`ChainLookup`).

The watcher (bridge/watcher.py) runs its blocking web3 calls in worker threads,
backs off on RPC errors and commits each final block range together with its
deposits and payouts to a SQLite outbox (bridge/cursor.py), one file per chain
under the node's data directory. The attest loop reads that outbox with its own
connection and signs every deposit and payout the ledger has not yet settled,
whenever the watcher has stored new ones (`Stored`: no timer polls the outbox).

Restart: the watcher resumes at its stored cursor, so no final log is missed or
stored twice; the attest loop re-reads the outbox from the start and signs again
only what is still unsettled (Ed25519 signatures are deterministic, so this is
the same attestation, re-gossiped for peers that lost the first one). The only
other writer of the outbox, re-observation's look-up (`ChainLookup`), gossips the
deposit it stores itself, so no fallback poll is needed for it either: the attest loop reads
that row at the watcher's next commit, or at the next start.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import requests
import trio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eth_utils.address import to_checksum_address
from web3.exceptions import Web3Exception

from bridge.chain import Chain, ChainIdMismatch, connect
from bridge.chain_answers import ChainError
from bridge.cursor import CursorStore
from bridge.expiries import BlockStamp, get_final_stamp, observe_expiry
from bridge.observation import (
    ReobserveRequest,
    SignedObservation,
    compute_settling_observation,
    sign_new_deposits,
    sign_observation,
)
from bridge.payouts import sign_new_payouts
from bridge.validators import EvmValidatorSet
from bridge.vault import get_validator_set
from bridge.watcher import (
    Watcher,
    WatcherConfig,
    WatcherError,
    fetch_deposit_by_receipt,
    get_final_block,
)
from clearing.assets import CollateralKey, CollateralToken
from clearing.attestation import Attestation
from clearing.state import WithdrawalRecord
from clearing.transition.withdrawal import PayoutObservation
from clearing.withdrawal_expiry import ExpiryObservation
from node.bridge.bridge_node import WatcherView
from node.bridge.reobserve import LookupFailed, NotFinal
from node.config import BridgeChainConfig

log = logging.getLogger(__name__)
T = TypeVar("T")
RPC_TIMEOUT_S = 10.0
CHAIN_READ_ERRORS = (trio.TooSlowError, ChainError, OSError, ValueError, Web3Exception)
RESTART_BACKOFF_S = 1.0
MAX_RESTART_BACKOFF_S = 60.0


def get_vault(config: BridgeChainConfig) -> bytes:
    return bytes.fromhex(config.vault_address[2:])


def get_outbox_path(data_dir: Path, config: BridgeChainConfig) -> Path:
    """One watcher database per chain name, beside the node's store."""
    return data_dir / "bridge" / f"{config.name}.sqlite3"


@dataclass(frozen=True)
class Attester:
    """What the attest loop needs of the node: what is settled, and where to send."""

    key: Ed25519PrivateKey
    network_chain_id: int
    tokens: Mapping[CollateralKey, CollateralToken]
    is_credited: Callable[[tuple[int, bytes, int]], bool]
    is_cleared: Callable[[tuple[bytes, int]], bool]  # a withdrawal paid or refunded
    send_deposit: Callable[[SignedObservation], Awaitable[None]]
    send_payout: Callable[[PayoutObservation, Attestation], Awaitable[None]]


class Stored:
    """The watcher stored new rows in the outbox: set by the watcher's commit, waited on
    by the attest loop. A commit while the loop reads is kept for its next wait, so the
    loop never sleeps on a row the watcher stored and it has not read."""

    def __init__(self) -> None:
        self._event = trio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self) -> None:
        await self._event.wait()
        self._event = trio.Event()


async def watch_chain(
    config: BridgeChainConfig,
    data_dir: Path,
    attester: Attester,
    watchers: dict[str, WatcherView],
) -> None:
    """Run the chain's watcher and attest loop until cancelled; a wrong chain id
    (the RPC serves another chain) stops this chain only, loudly."""
    path = get_outbox_path(data_dir, config)
    path.parent.mkdir(parents=True, exist_ok=True)
    store, reader = CursorStore(path), CursorStore(path)
    stored = Stored()
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(attest_forever, reader, attester, stored)
            try:
                await supervise_watcher(config, store, watchers, stored)
            except ChainIdMismatch as exc:
                log.error("bridge chain %s not watched: %s", config.name, exc)
                nursery.cancel_scope.cancel()
    finally:
        store.close()
        reader.close()


async def supervise_watcher(
    config: BridgeChainConfig, store: CursorStore, watchers: dict[str, WatcherView], stored: Stored
) -> None:
    """Run a watcher from the stored cursor; one that fails on anything but a wrong
    chain id (a malformed log, a library error) is logged and restarted after a
    doubling pause, so a chain's oddity never stops the node."""
    backoff = RESTART_BACKOFF_S
    while True:
        watcher = Watcher(
            WatcherConfig(
                chain_id=config.chain_id,
                url=config.rpc_url,
                vault=get_vault(config),
                confirmations=config.confirmation_depth,
                poll_interval_s=config.poll_interval_ms / 1000,
                rpc_timeout_s=RPC_TIMEOUT_S,
            ),
            store,
            stored.set,
        )
        watchers[config.name] = watcher
        try:
            await watcher.run()
        except ChainIdMismatch:
            raise
        except Exception:  # any failure of one chain's reader must not stop the node
            log.exception("bridge chain %s watcher failed; restart in %.0f s", config.name,
                          backoff)  # fmt: skip
        await trio.sleep(backoff)
        backoff = min(backoff * 2, MAX_RESTART_BACKOFF_S)


async def attest_forever(reader: CursorStore, attester: Attester, stored: Stored) -> None:
    """Sign and send every stored deposit and payout the ledger has not settled, then
    wait for the watcher to store more (the outbox is read and signed in a worker
    thread: SQLite may wait on the watcher's write)."""
    deposit_seq = payout_seq = 0
    while True:
        last_deposit, signed, refused = await trio.to_thread.run_sync(
            sign_new_deposits,
            reader,
            deposit_seq,
            attester.tokens,
            attester.key,
            attester.network_chain_id,
        )
        for deposit, reason in refused:
            log.warning("deposit 0x%s (nonce %d) attested with zero quanta, nothing credited: %s",
                        deposit.tx_hash.hex(), deposit.deposit_nonce, reason)  # fmt: skip
        for observation in signed:
            if not attester.is_credited(observation.observation.key):
                await attester.send_deposit(observation)
        last_payout, payouts = await trio.to_thread.run_sync(
            sign_new_payouts, reader, payout_seq, attester.key, attester.network_chain_id
        )
        for payout, attestation in payouts:
            if not attester.is_cleared((payout.member, payout.nonce)):
                await attester.send_payout(payout, attestation)
        if (last_deposit, last_payout) == (deposit_seq, payout_seq):
            await stored.wait()
        deposit_seq, payout_seq = last_deposit, last_payout


class VaultReader:
    """Reads of the vault (its validator set at a final block, what expired withdrawals
    it never paid) over a lazily opened connection."""

    def __init__(self, config: BridgeChainConfig) -> None:
        self.config = config
        self.chain: Chain | None = None

    def _get_chain(self) -> Chain:
        if self.chain is None:
            self.chain = connect(self.config.rpc_url, self.config.chain_id, RPC_TIMEOUT_S)
        return self.chain

    def _read_final_set(self) -> tuple[int, EvmValidatorSet] | None:
        final = get_final_block(self._get_chain(), self.config.confirmation_depth)
        if final < 0:
            return None
        vault = self._get_chain().contract(
            "CollateralVault", to_checksum_address(self.config.vault_address)
        )
        return final, get_validator_set(vault, final)

    def _get_final_stamp(self) -> BlockStamp | None:
        return get_final_stamp(self._get_chain(), self.config.confirmation_depth)

    def _observe_expiry(
        self, record: WithdrawalRecord, head: BlockStamp
    ) -> ExpiryObservation | None:
        return observe_expiry(self._get_chain(), get_vault(self.config), record, head)

    async def _run(self, read: Callable[..., T], *args: Any) -> T:
        """Raises the chain's or the transport's error; the caller retries later."""
        try:
            with trio.fail_after(RPC_TIMEOUT_S):
                return await trio.to_thread.run_sync(read, *args, abandon_on_cancel=True)
        except BaseException:
            self.chain = None  # a fresh connection next time
            raise

    async def get_final_set(self) -> tuple[int, EvmValidatorSet] | None:
        """(final block, the validator set the vault trusts at it) by the watcher's
        finality rule, or None before any block is final: every validator reads the
        same set, so their rotations and withdrawal signatures sign the same bytes."""
        return await self._run(self._read_final_set)

    async def get_final_stamp(self) -> BlockStamp | None:
        """The final head by the watcher's rule, or None before any block is final."""
        return await self._run(self._get_final_stamp)

    async def observe_expiry(
        self, record: WithdrawalRecord, head: BlockStamp
    ) -> ExpiryObservation | None:
        """What this validator attests of `record` (bridge/expiries.py), if the final
        `head` is past its expiry and the vault never paid it; one read per record, so
        a long backlog still progresses within the RPC timeout."""
        return await self._run(self._observe_expiry, record, head)


def handle_reobserve_request(
    request: ReobserveRequest,
    *,
    chain: Chain,
    vault: bytes,
    confirmations: int | None,
    store: CursorStore,
    tokens: Mapping[CollateralKey, CollateralToken],
    key: Ed25519PrivateKey,
    network_chain_id: int,
) -> SignedObservation:
    """Attest the requested deposit if this validator's own chain shows it final.

    Synchronous (chain reads): the node runs it with trio.to_thread.run_sync. Raises
    the watcher's typed errors when the deposit is absent, not final or orphaned.
    """
    deposit = store.get_deposit(request.chain_id, request.tx_hash, request.log_index)
    if deposit is None:
        deposit = fetch_deposit_by_receipt(
            chain, vault, request.tx_hash, request.log_index, confirmations
        )
        store.add_deposit(deposit)
    observation, _ = compute_settling_observation(deposit, tokens)
    return sign_observation(key, network_chain_id, observation)


LOOKUP_TIMEOUT_S = 2 * RPC_TIMEOUT_S  # a receipt, the final block, the canonical hashes


@dataclass
class ChainLookup:
    """One watched chain's re-observation look-ups (reobserve.Lookup): its RPC connection
    and outbox, opened lazily in a worker thread."""

    config: BridgeChainConfig
    outbox: Path
    tokens: Mapping[CollateralKey, CollateralToken]
    key: Ed25519PrivateKey
    network_chain_id: int
    chain: Chain | None = None
    store: CursorStore | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    timeout_s: float = LOOKUP_TIMEOUT_S

    def reobserve(self, request: ReobserveRequest) -> SignedObservation:
        """Synchronous: the deposit signed if final here; NotFinal when the chain shows
        no final, canonical, successful vault deposit there, LookupFailed when it cannot
        be read (the connection is reopened next time)."""
        with self.lock:
            try:
                if self.chain is None:
                    self.chain = connect(self.config.rpc_url, self.config.chain_id, RPC_TIMEOUT_S)
                if self.store is None:
                    self.outbox.parent.mkdir(parents=True, exist_ok=True)
                    self.store = CursorStore(self.outbox)
                return handle_reobserve_request(
                    request,
                    chain=self.chain,
                    vault=get_vault(self.config),
                    confirmations=self.config.confirmation_depth,
                    store=self.store,
                    tokens=self.tokens,
                    key=self.key,
                    network_chain_id=self.network_chain_id,
                )
            except WatcherError as exc:
                raise NotFinal(request, str(exc)) from None
            except (ChainError, requests.RequestException, OSError) as exc:
                self.chain = None
                raise LookupFailed(request, f"{type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        """Close the outbox unless an abandoned lookup still holds it (then GC does)."""
        if self.lock.acquire(blocking=False):
            try:
                if self.store is not None:
                    self.store.close()
                    self.store = None
            finally:
                self.lock.release()
