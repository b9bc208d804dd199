"""Chain 31337 as it was around the valid report vector's time, for the verifiers that
read its vaults (`clearnode verify --rpc`, the SDK's `verify_report(rpc=...)`, the
browser verifier): the genesis's collateral tokens sit at made-up addresses (the
committed report's labels name them), so anvil is given there a minimal token whose
`balanceOf(a)` is storage slot `a`. At the report's time vault RICH holds the collateral
the ledger says plus EXTRA, vault POOR SHORT less of the first token; in a block after
it both hold nothing (the verifiers must read the vault as it was at the report)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bridge.anvil import AnvilNode
from bridge.chain import Chain, connect
from clearing.genesis import compute_genesis_hash, parse_genesis
from clearing.published_ledger import PublishedLedger
from clearnode.client.sandbox_keys import derive_ed25519_key
from proofs.report import decode_report
from tests.lightclient.support import anchor_report
from tests.vectors.make_reports import REPORTS

CHAIN_ID = 31337
OTHER_CHAIN_ID = 31338
RICH = bytes.fromhex("5a" * 20)  # holds a little more than the ledger says the vault holds
POOR = bytes.fromhex("5b" * 20)  # holds less of the first token
EXTRA, SHORT = 5, 7
# PUSH1 4 CALLDATALOAD SLOAD PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN: returns slot[argument]
BALANCE_OF_SLOT_CODE = "0x600435546000526020" + "6000f3"
REPORT = REPORTS / "valid" / "report.bin"
SKIPPED = "the state root followed to the chain within the trusting period"
"""What a check of the report skips, as the verdict's headline names it."""


def _slot(holder: bytes) -> str:
    return "0x" + (bytes(12) + holder).hex()


def _set_balance(chain: Chain, token: bytes, holder: bytes, amount: int) -> None:
    chain.request("anvil_setStorageAt", ["0x" + token.hex(), _slot(holder), f"0x{amount:064x}"])


def _mine_at(chain: Chain, time_s: int) -> None:
    chain.request("evm_mine", [time_s])


@contextmanager
def run_reserves_chain() -> Iterator[AnvilNode]:
    """Anvil serving chain 31337 around the valid vector's time (the module's docstring)."""
    report = decode_report(REPORT.read_bytes())
    time_ms = report.get_time_ms()
    assert time_ms is not None, "the valid vector carries an anchor"
    report_s = time_ms // 1000
    genesis = parse_genesis(json.loads((REPORTS / "genesis.json").read_text()))
    quantum = {(t.chain_id, t.token): t.quantum for t in genesis.collateral}
    owed = {
        r.token: r.get_held() * quantum[r.key]
        for r in PublishedLedger.decode(report.market_proof.ledger).reserves
        if r.chain_id == CHAIN_ID
    }
    with AnvilNode(CHAIN_ID, extra_args=("--timestamp", str(report_s - 1000))) as node:
        chain = connect(node.url, CHAIN_ID)
        for n, (token, amount) in enumerate(sorted(owed.items())):
            chain.request("anvil_setCode", ["0x" + token.hex(), BALANCE_OF_SLOT_CODE])
            _set_balance(chain, token, RICH, amount + EXTRA)
            _set_balance(chain, token, POOR, amount - SHORT if n == 0 else amount)
        _mine_at(chain, report_s - 10)
        # anvil's setStorageAt changes the latest block's state: block 1 is kept as it
        # was by mining block 2 (after the report) first, whose state is then emptied
        _mine_at(chain, report_s + 100)
        for token in owed:
            _set_balance(chain, token, RICH, 0)
            _set_balance(chain, token, POOR, 0)
        yield node


def write_genesis_with_vault(tmp_path: Path, vault: bytes) -> Path:
    """The vectors' genesis with `vault` on chain 31337 and another on 31338: another
    genesis, whose chain the report's anchor is not on (the chain's name carries the
    genesis hash), so a check from it reads `write_report_anchored_to`'s report."""
    doc = json.loads((REPORTS / "genesis.json").read_text())
    doc["vaults"] = [
        {"chain_id": CHAIN_ID, "address": "0x" + vault.hex()},
        {"chain_id": OTHER_CHAIN_ID, "address": "0x" + "77" * 20},
    ]
    path = tmp_path / f"genesis-{vault.hex()[:4]}.json"
    path.write_text(json.dumps(doc))
    return path


def write_report_anchored_to(genesis: Path) -> Path:
    """The valid vector with the anchor its validators would commit on the chain of
    `genesis` (a genesis with vaults added: the vector's own anchor is on the vectors'
    genesis's chain, whose name carries its hash). Its header's time is the vector's, so
    the vaults are read at the same block."""
    doc = json.loads(genesis.read_text())
    keys = [derive_ed25519_key(v["name"]) for v in doc["validators"]]
    report = decode_report(REPORT.read_bytes())
    anchored = anchor_report(report, keys, genesis_hash=compute_genesis_hash(genesis.read_bytes()))
    path = genesis.with_suffix(".report.bin")
    path.write_bytes(anchored.encode())
    return path
