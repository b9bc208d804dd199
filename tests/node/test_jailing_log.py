"""A jailed key is logged and counted when its block commits (node/startup/steps.py), and
shown by `GET /v1/validators`."""

from __future__ import annotations

import logging

import pytest

from clearing.genesis import parse_genesis
from node.api.server import get_jailing_view
from node.clearing_app import ClearingApp
from node.metrics import NodeMetrics
from node.startup import log_jailings
from tests.clearing.support import genesis_doc
from tests.node.test_app import equivocating_block


def test_a_jailing_is_logged_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    app = ClearingApp(parse_genesis(genesis_doc()))
    app.finalize_block(equivocating_block(app, 1))
    assert app.last_result is not None
    with caplog.at_level(logging.WARNING, "node.startup"):
        jailed = log_jailings(1, app.last_result)
    key = app.genesis.validators[1].pubkey.hex()
    assert [r.getMessage() for r in caplog.records] == [
        f"validator validator-1 (key {key}) jailed at height 1 for equivocating at height 1"
    ]
    metrics = NodeMetrics()
    metrics.observe_jailings(len(jailed))
    assert b"clearnode_validators_jailed_total 1.0" in metrics.render()


def test_the_validators_route_says_who_is_jailed() -> None:
    app = ClearingApp(parse_genesis(genesis_doc()))
    app.finalize_block(equivocating_block(app, 1))
    jailing = app.state.jailed[app.genesis.validators[1].pubkey]
    assert get_jailing_view(jailing) == {"evidence_height": 1, "height": 1, "power": 10}
    assert get_jailing_view(None) is None
