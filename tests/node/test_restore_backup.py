"""docs/production.md, "Restoring the store from a backup", run as written: a validator's
store copied with sqlite3's `.backup` while the node runs, the node killed later with its
store lost, the backup put in place beside the node's own newer consensus WAL. The node
starts at the backup's height, syncs the rest from its peers and signs commits again, and
no block of any node carries evidence of a validator signing twice."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from clearnode.client.sandbox_keys import derive_seed
from consensus.types import Block
from lightclient.commit import CommitCertificate
from lightclient.crypto import PrivateKey
from tests.node.netproc import SHORT_TIMEOUTS, NodeHome, process_network, read_blocks, read_roots
from tests.node.test_network_processes import wait_until

pytestmark = [
    pytest.mark.multiprocess,
    pytest.mark.slow,
]

RESTORE = """
set -e
cd {data}
mkdir damaged
mv node.sqlite3* damaged/
sqlite3 {backup} "PRAGMA integrity_check"
install -m 0600 {backup} node.sqlite3
"""
"""docs/production.md's restore, but for `systemctl` (the test kills and starts the node)
and `install`'s owner (the test runs as one user)."""


def read_signers(home: NodeHome, above: int) -> set[bytes]:
    """Every validator key in the commit certificates `home` stored above height `above`."""
    db = sqlite3.connect(f"file:{home.db}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT cert FROM blocks WHERE height > ?", (above,)).fetchall()
    finally:
        db.close()
    return {s.validator for (cert,) in rows for s in CommitCertificate.decode(cert).signatures}


def count_evidence(blocks: list[Block]) -> int:
    return sum(len(block.evidence) for block in blocks)


async def test_a_validator_restored_from_a_backup_rejoins_without_signing_twice(
    tmp_path: Path,
) -> None:
    with process_network(tmp_path / "net", extra_config=SHORT_TIMEOUTS) as net:
        restored, *others = net.homes
        await wait_until("three commits", lambda: len(restored.get_roots()) >= 3)
        backup = tmp_path / "node-backup.sqlite3"
        command = ["sqlite3", str(restored.db), f".backup '{backup}'"]  # the doc's daily copy
        subprocess.run(command, check=True, capture_output=True, timeout=60)
        backed_up = len(read_roots(backup))
        # its WAL goes on: it signs heights the backup does not hold
        await wait_until("five more", lambda: len(restored.get_roots()) >= backed_up + 5)
        net.kill(restored)
        lost = len(restored.get_roots())
        script = RESTORE.format(data=restored.db.parent, backup=backup)
        done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=60)
        assert (done.returncode, done.stdout) == (0, "ok\n"), done
        assert len(restored.get_roots()) == backed_up < lost

        net.start(restored)
        tip = max(len(home.get_roots()) for home in others)
        await wait_until("the restored node to catch up", lambda: len(restored.get_roots()) > tip)
        key = PrivateKey(derive_seed("validator-0")).public_key
        await wait_until(
            "its precommits in the others' commits",
            lambda: key in read_signers(others[0], tip),
        )
        log = (restored.path / "node.log").read_text()
        assert f"state at height {backed_up}:" in log, "it did not start from the backup"
        for home in net.homes:
            assert count_evidence(read_blocks(home)) == 0, f"{home.name}: a validator equivocated"
