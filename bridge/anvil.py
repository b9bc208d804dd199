"""Real anvil EVM nodes on loopback, for tests, benchmarks and the devnet.

Each `AnvilNode` is one OS process bound to 127.0.0.1 on a free port with a
chosen chain id. With `state_path` set, the chain is dumped on stop and loaded on
start (`--state`), so a killed-and-restarted node keeps its blocks and logs.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bridge.loopback import get_free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
ANVIL_BINARY = REPO_ROOT / "node_modules" / ".bin" / "anvil"
# anvil's first default dev account (mnemonic "test test ... junk"), funded on every devnet.
DEV_PRIVATE_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


class AnvilError(Exception):
    """An anvil process did not start or answer."""


def is_rpc_answering(url: str, timeout: float = 0.5) -> bool:
    request = urllib.request.Request(
        url,
        data=json.dumps(
            {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
        ).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return "result" in json.loads(response.read())
    except (OSError, urllib.error.URLError, ValueError):
        return False


@dataclass
class AnvilNode:
    """One anvil process; `start()` / `kill()` / `stop()` / `restart()` may repeat."""

    chain_id: int
    state_path: Path | None = None
    block_time: int | None = None
    extra_args: tuple[str, ...] = ()
    port: int = field(default_factory=get_free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> AnvilNode:
        """Start the process and return once its RPC answers."""
        if self.process is not None and self.process.poll() is None:
            raise AnvilError(f"anvil on port {self.port} already running")
        args = [
            str(ANVIL_BINARY),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--chain-id",
            str(self.chain_id),
            "--silent",
        ]
        if self.state_path is not None:
            args += ["--state", str(self.state_path)]
        if self.block_time is not None:
            args += ["--block-time", str(self.block_time)]
        args += list(self.extra_args)
        self.process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self._wait_until_answering(timeout)
        return self

    def _wait_until_answering(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        delay = 0.02
        while not is_rpc_answering(self.url):
            if self.process.poll() is not None:
                stderr = self.process.stderr.read().decode() if self.process.stderr else ""
                raise AnvilError(f"anvil exited with {self.process.returncode}: {stderr[-500:]}")
            if time.monotonic() > deadline:
                self.kill()
                raise AnvilError(f"anvil on port {self.port} not answering after {timeout}s")
            time.sleep(delay)  # polling an external process; nothing to wait on instead
            delay = min(delay * 2, 0.2)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop gracefully (SIGINT), so that `--state` dumps the chain to disk.

        Raises AnvilError if a node with `state_path` had to be killed: its state
        was then not dumped, and a caller that restarts it expecting its blocks must know.
        """
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                self._close()
                if self.state_path is None:
                    return
                raise AnvilError(
                    f"anvil on port {self.port} ignored SIGINT for {timeout}s and was killed;"
                    " its state was not dumped"
                ) from None
        self._close()

    def kill(self) -> None:
        """SIGKILL: the process dies at once and dumps nothing."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._close()

    def restart(self, timeout: float = 20.0) -> AnvilNode:
        """Stop (dumping state) and start again on the same port."""
        self.stop()
        return self.start(timeout)

    def _close(self) -> None:
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None

    def __enter__(self) -> AnvilNode:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.kill()
