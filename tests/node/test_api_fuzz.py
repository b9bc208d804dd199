"""Schemathesis against the API's own /openapi.json, bounded to run in `make test`.

Every documented route gets requests that fit its schema and requests that break it
(schemathesis's positive and negative modes). JSON bodies also get mutations schemathesis
does not make: the node's own chain id, so a body gets past the chain check to the message
parser, and a hostile value (a lone surrogate, an integer past 78 digits, deep nesting...)
in place of one field. No request may answer 5xx, and the node answers afterwards.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import BaseSchema, Case, GenerationMode
from schemathesis.checks import not_a_server_error

from tests.node.apiserver import serve_app_in_thread
from tests.node.hostile import CHAIN_ID
from tests.node.test_api import MAX_BODY, make_app

EXAMPLES = 15
"""Cases per route and mode: the file runs in 20-30 s on a busy 2-core machine."""


def nest(value: object, depth: int) -> object:
    for _ in range(depth):
        value = [value]
    return value


HOSTILE_VALUES: list[object] = [
    "\ud800",
    "alpha\udfff",
    "\x00",
    "",
    "0x" + "ff" * 21,
    10**78,
    -(2**255) - 1,
    1.5,
    1e308,
    None,
    True,
    {},
    nest(0, 20),
]


LeafPath = tuple[str | int, ...]


def get_leaf_paths(value: object, path: LeafPath = ()) -> Iterator[LeafPath]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from get_leaf_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from get_leaf_paths(item, (*path, index))
    else:
        yield path


@st.composite
def hostile_variant(draw: st.DrawFn, body: dict[str, Any]) -> dict[str, Any]:
    variant = copy.deepcopy(body)
    if "chainId" in variant:
        variant["chainId"] = CHAIN_ID
    paths = [p for p in get_leaf_paths(variant) if p]
    if paths:
        *parents, last = draw(st.sampled_from(paths))
        holder: Any = variant
        for key in parents:
            holder = holder[key]
        holder[last] = draw(st.sampled_from(HOSTILE_VALUES))
    return variant


@pytest.fixture(scope="module")
def node_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _, _, store, app = make_app(Path(tmp_path_factory.mktemp("fuzz")))
    with serve_app_in_thread(app, MAX_BODY) as url:
        yield url
        # after every case: the node still answers
        assert httpx.get(f"{url}/v1/status", timeout=10).status_code == 200
    store.close()


@pytest.fixture(scope="module")
def api_schema(node_url: str) -> BaseSchema:
    return schemathesis.openapi.from_url(f"{node_url}/openapi.json")


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_request_gets_a_server_error(
    api_schema: BaseSchema, node_url: str, mode: GenerationMode
) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    # the event stream never ends, and schemathesis skips /openapi.json itself
    operations = [op for op in operations if op.label != "GET /v1/events"]
    documented = sum(len(ops) for ops in api_schema.raw_schema["paths"].values())
    assert len(operations) == documented - 2  # every route is fuzzed
    if mode is GenerationMode.NEGATIVE:  # only a body has a schema to break (paths are text)
        operations = [op for op in operations if op.method == "post"]
    for operation in operations:

        @given(case=operation.as_strategy(mode), data=st.data())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def answers_without_a_server_error(case: Case, data: st.DataObject) -> None:
            if isinstance(case.body, dict) and data.draw(st.booleans(), "hostile"):
                # sent as is: schemathesis cannot validate or encode a lone surrogate
                variant = data.draw(hostile_variant(case.body), "variant")
                response = httpx.request(
                    case.method, node_url + case.formatted_path, content=json.dumps(variant),
                    headers={"content-type": "application/json"}, timeout=10,
                )  # fmt: skip
                assert response.status_code < 500, (variant, response.text)
            else:
                case.call_and_validate(base_url=node_url, checks=[not_a_server_error], timeout=10)

        answers_without_a_server_error()
