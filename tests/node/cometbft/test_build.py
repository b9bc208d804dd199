"""The CometBFT build: the pin is rebuilt only when the installed binary is not it, every
module comes through the proxy and the checksum database, and the ABCI types' imports
are read from the pinned module's go.mod."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.cometbft import build
from node.cometbft.pin import COMETBFT_MODULE, COMETBFT_VERSION, GOGOPROTO_MODULE


def write_binary(venv: Path, prints: str) -> Path:
    binary = build.get_binary(venv)
    binary.parent.mkdir(parents=True)
    binary.write_text(f"#!/bin/sh\necho {prints}\n")
    binary.chmod(0o755)
    return binary


def test_the_pinned_binary_is_not_built_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_binary(tmp_path, COMETBFT_VERSION.removeprefix("v"))
    monkeypatch.setattr(build, "run_go", lambda *a, **k: pytest.fail("go ran"))
    build.install_binary(tmp_path)


def test_another_release_is_replaced_and_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_binary(tmp_path, "0.38.1")
    ran: list[tuple[str, ...]] = []
    monkeypatch.setattr(build, "run_go", lambda *args, env: ran.append(args))
    with pytest.raises(build.BuildError, match=r"reports version '0\.38\.1'"):
        build.install_binary(tmp_path)
    assert ran == [("install", f"{COMETBFT_MODULE}/cmd/cometbft@{COMETBFT_VERSION}")]


def test_go_always_uses_the_proxy_and_the_checksum_database() -> None:
    loose = {
        "PATH": "/usr/bin",
        "GOPROXY": "direct",
        "GOSUMDB": "off",
        "GONOSUMDB": "*",
        "GOINSECURE": "*",
        "GOFLAGS": "-insecure",
    }
    env = build.get_go_env(loose)
    assert env["GOPROXY"] == build.GO_PROXY and env["GOSUMDB"] == build.GO_SUMDB
    assert env["GOFLAGS"] == "-buildvcs=false" and env["PATH"] == "/usr/bin"
    assert not set(build.UNCHECKED_GO_SETTINGS) & set(env)


def test_the_gogoproto_version_is_read_from_the_pinned_go_mod(tmp_path: Path) -> None:
    go_mod = tmp_path / "go.mod"
    go_mod.write_text(f"module x\n\nrequire (\n\t{GOGOPROTO_MODULE} v1.7.0\n)\n")
    assert build.get_required_version(go_mod, GOGOPROTO_MODULE) == "v1.7.0"
    go_mod.write_text("module x\n")
    with pytest.raises(build.BuildError, match="does not require"):
        build.get_required_version(go_mod, GOGOPROTO_MODULE)
