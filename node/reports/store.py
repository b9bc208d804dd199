"""Reports on disk under the node home: `data/reports/epoch-N.*`, written atomically.

- `epoch-N.bin`: the complete report (proofs/FORMAT.md bytes with signatures),
  exactly what `clearnode verify` reads;
- `epoch-N.commit.json`: `{"epoch", "reportHash", "commitHeight"}` once the hash
  is committed in a block;
- `epoch-N.inputs.json` (validators only, mode 0600): the committed vectors,
  from which a member's openings are computed on request, and each member's
  account record with its inclusion proof under the report's state root. It holds
  every member's balances and positions, like the node's own database.

Only the newest `keep` epochs are kept.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from clearing.risk.solvency import SolvencyMarket
from clearing.transition.root import AccountProof, MarketProof
from node.reports.inputs import ReportInputs

# 7 had no reported accounts, 6 no published ledger, 5 no published roles, 4 no
# configuration, 3 no account proofs, 2 no market, 1 no chain id
INPUTS_VERSION = 8
FILE_PATTERN = re.compile(r"^epoch-(\d+)\.")


@dataclass(frozen=True)
class CommitRecord:
    epoch: int
    report_hash: bytes
    height: int


def write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Readers see the old file or the new one, never a torn write (even after a crash)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


class ReportStore:
    def __init__(self, directory: Path, keep: int) -> None:
        self.directory = directory
        self.keep = keep
        directory.mkdir(parents=True, exist_ok=True)

    def _path(self, epoch: int, suffix: str) -> Path:
        return self.directory / f"epoch-{epoch}.{suffix}"

    def save_report(self, epoch: int, encoded: bytes) -> None:
        write_atomically(self._path(epoch, "bin"), encoded)
        self.prune()

    def get_report(self, epoch: int) -> bytes | None:
        try:
            return self._path(epoch, "bin").read_bytes()
        except FileNotFoundError:  # none, or pruned meanwhile (sync reads in a thread)
            return None

    def get_report_size(self, epoch: int) -> int | None:
        """The stored report's size in bytes (one stat), None when none is stored."""
        try:
            return self._path(epoch, "bin").stat().st_size
        except FileNotFoundError:
            return None

    def is_kept(self, epoch: int) -> bool:
        """Whether a report of `epoch` saved now would survive `prune`."""
        return sum(1 for e in self._all_epochs() if e > epoch) < self.keep

    def get_latest_epoch(self) -> int | None:
        epochs = self._epochs("bin")
        return epochs[-1] if epochs else None

    def get_first_epoch(self) -> int | None:
        """The oldest epoch whose report is held: older ones were pruned (`keep`), or
        came before this node's first (a state-synced node's)."""
        epochs = self._epochs("bin")
        return epochs[0] if epochs else None

    def save_commit(self, record: CommitRecord) -> None:
        body = {
            "epoch": record.epoch,
            "reportHash": "0x" + record.report_hash.hex(),
            "commitHeight": record.height,
        }
        write_atomically(self._path(record.epoch, "commit.json"), json.dumps(body).encode())

    def get_commit(self, epoch: int) -> CommitRecord | None:
        path = self._path(epoch, "commit.json")
        if not path.exists():
            return None
        body = json.loads(path.read_text())
        return CommitRecord(epoch, bytes.fromhex(body["reportHash"][2:]), body["commitHeight"])

    def save_inputs(self, inputs: ReportInputs) -> None:
        body = {
            "version": INPUTS_VERSION,
            "chainId": inputs.chain_id,
            "epoch": inputs.epoch,
            "height": inputs.height,
            "stateRoot": "0x" + inputs.state_root.hex(),
            "labels": list(inputs.input_labels),
            "rows": [list(r) for r in inputs.rows],
            "market": inputs.market.to_fields(),
            "marketProof": ["0x" + h.hex() for h in inputs.market_proof.to_fields()],
            "accounts": [["0x" + o.hex(), s, list(v)] for (o, s), v in inputs.accounts.items()],
            "accountProofs": [
                ["0x" + member.hex(), "0x" + account.hex(), "0x" + proof.encode().hex()]
                for member, (account, proof) in inputs.account_proofs.items()
            ],
        }
        write_atomically(self._path(inputs.epoch, "inputs.json"), json.dumps(body).encode(), 0o600)
        self.prune()

    def get_inputs(self, epoch: int) -> ReportInputs | None:
        path = self._path(epoch, "inputs.json")
        if not path.exists():
            return None
        body = json.loads(path.read_text())
        if body.get("version") != INPUTS_VERSION:
            return None  # written for a report format no verifier reads any more
        return ReportInputs(
            body["chainId"],
            body["epoch"],
            body["height"],
            bytes.fromhex(body["stateRoot"][2:]),
            tuple(body["labels"]),
            tuple(tuple(r) for r in body["rows"]),
            SolvencyMarket.from_fields(body["market"]),
            MarketProof.from_fields([bytes.fromhex(h[2:]) for h in body["marketProof"]]),
            {(bytes.fromhex(o[2:]), s): tuple(v) for o, s, v in body["accounts"]},
            account_proofs={
                bytes.fromhex(m[2:]): (
                    bytes.fromhex(a[2:]),
                    AccountProof.decode(bytes.fromhex(p[2:])),
                )
                for m, a, p in body["accountProofs"]
            },
        )

    def _epochs(self, suffix: str) -> list[int]:
        return sorted(
            int(m.group(1))
            for p in self.directory.glob(f"epoch-*.{suffix}")
            if (m := FILE_PATTERN.match(p.name))
        )

    def _all_epochs(self) -> list[int]:
        return sorted({int(m.group(1)) for p in self.directory.iterdir()
                       if (m := FILE_PATTERN.match(p.name))})  # fmt: skip

    def prune(self) -> None:
        """Delete every file of epochs older than the newest `keep` epochs."""
        for epoch in self._all_epochs()[: -self.keep]:
            for path in self.directory.glob(f"epoch-{epoch}.*"):
                path.unlink(missing_ok=True)
