"""The OpenAPI 3.1 document, built from the app's route table so a route cannot exist
undocumented; the schemas describe the JSON bodies parsed in bodies.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clearing.transition.member_requests import (
    ACCOUNT_EVENTS_FIELDS,
    ACCOUNT_PROOF_FIELDS,
    ACCOUNT_QUERY_FIELDS,
    CLIENTS_QUERY_FIELDS,
    MEMBER_REQUESTS,
)
from node.api.tiers import Tier
from node.limits import MAX_JSON_REQUEST_BYTES

HEX = {"type": "string", "pattern": "^0x([0-9a-fA-F]{2})*$"}
ADDRESS = {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$"}


@dataclass(frozen=True)
class RouteDoc:
    method: str
    path: str  # OpenAPI template, e.g. /v1/blocks/{height}
    operation_id: str
    summary: str
    request: str | None = None  # component schema name of the JSON body
    response: str = "Object"  # component schema name of the 2xx body
    status: int = 200
    content_type: str = "application/json"
    errors: tuple[int, ...] = ()
    max_body_bytes: int = MAX_JSON_REQUEST_BYTES
    """A longer body is refused with 413 before more of it is read."""
    tier: Tier = field(kw_only=True)
    """Who may use it (node/api/tiers.py); no default, so no route is public by omission."""


def _eip712_schema(fields: list[dict[str, str]]) -> dict[str, Any]:
    def one(t: str) -> dict[str, Any]:
        if t == "address":
            return ADDRESS
        if t.startswith("uint"):
            return {"type": "integer", "minimum": 0, "maximum": 2 ** int(t[4:]) - 1}
        if t.startswith("int"):
            bound = 2 ** (int(t[3:]) - 1)
            return {"type": "integer", "minimum": -bound, "maximum": bound - 1}
        return {"type": "boolean" if t == "bool" else "string"}

    return {
        "type": "object",
        "additionalProperties": False,
        "required": [f["name"] for f in fields],
        "properties": {f["name"]: one(f["type"]) for f in fields},
    }


def _signed(kind_names: list[str] | None, message: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = {
        "chainId": {"type": "integer", "description": "EIP-712 domain chainId; must be ours"},
        "message": message,
        "signature": {**HEX, "description": "65-byte EIP-712 signature by the member"},
    }
    if kind_names is not None:
        props["type"] = {"enum": kind_names}
    return {"type": "object", "required": sorted(props), "properties": props}


SCHEMAS: dict[str, Any] = {
    "Object": {"type": "object"},
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["type", "message", "details"],
                "properties": {
                    "type": {"type": "string", "description": "error class, e.g. BadSignature"},
                    "message": {"type": "string"},
                    "details": {"type": "object", "description": "the numbers that explain it"},
                },
            }
        },
    },
    "EncodedTx": {
        "type": "object",
        "required": ["tx"],
        "properties": {"tx": {**HEX, "description": "clearing transaction envelope (msgpack)"}},
        "description": "Or send the envelope bytes as an application/msgpack body.",
    },
    "MemberRequest": {
        "oneOf": [
            _signed([name], _eip712_schema(request.SCHEMA.eip712_fields))
            for name, request in MEMBER_REQUESTS.items()
        ],
        "description": "EIP-712 typed data (domain name 'clearnode', version '1') and signature.",
    },
    "AccountQuery": _signed(None, _eip712_schema(ACCOUNT_QUERY_FIELDS)),
    "ClientsQuery": _signed(None, _eip712_schema(CLIENTS_QUERY_FIELDS)),
    "AccountEventsQuery": {
        **_signed(None, _eip712_schema(ACCOUNT_EVENTS_FIELDS)),
        "properties": {
            **_signed(None, _eip712_schema(ACCOUNT_EVENTS_FIELDS))["properties"],
            "cursor": {
                "type": "object",
                "description": "A previous answer's nextCursor: the page starts after it "
                "(without it, at fromHeight); not signed, it only pages your own history",
                "required": ["height", "seq"],
                "properties": {"height": {"type": "integer"}, "seq": {"type": "integer"}},
            },
            "format": {"enum": ["json", "csv"], "description": "default json"},
        },
    },
    "AccountEvents": {
        "type": "object",
        "description": "The member's history (events naming it as member or counterparty, "
        "the other party left out unless it is the clearing house) from committed blocks, "
        "oldest first by (height, seq); ask again with cursor = nextCursor while it is not "
        "null. source 'block' is an end-of-block step (index -1), 'tx' the transaction at "
        "index. As CSV: a header row, one row per event, X-Next-Cursor header.",
        "required": ["member", "fromHeight", "historyHeight", "nextCursor", "events"],
        "properties": {
            "member": ADDRESS,
            "fromHeight": {"type": "integer"},
            "historyHeight": {"type": "integer"},
            "nextCursor": {"type": ["object", "null"]},
            "events": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["height", "seq", "source", "index", "kind", "fields"],
                },
            },
        },
    },
    "AccountStreamQuery": {
        **_signed(None, _eip712_schema(ACCOUNT_EVENTS_FIELDS)),
        "description": "EIP-712 primary type AccountStream (fields as AccountEvents); a "
        "signature opens one stream only. The answer is text/event-stream: each frame is "
        "`event: account_event`, `id:` the row's cursor, `data:` one row as in AccountEvents.",
        "properties": {
            **_signed(None, _eip712_schema(ACCOUNT_EVENTS_FIELDS))["properties"],
            "cursor": {
                "type": "object",
                "description": "Resume after this cursor (a frame's id; or send it as "
                "Last-Event-ID); without either, from fromHeight. Not signed.",
                "required": ["height", "seq"],
                "properties": {"height": {"type": "integer"}, "seq": {"type": "integer"}},
            },
        },
    },
    "AccountProofQuery": _signed(None, _eip712_schema(ACCOUNT_PROOF_FIELDS)),
    "AccountProof": {
        "type": "object",
        "description": "The member's account bytes (all sub-accounts) and their Merkle path "
        "to stateRoot, the committed state root at height; `clearnode verify "
        "--account-proof FILE --state-root ROOT --height H` checks it.",
        "required": ["chainId", "member", "height", "stateRoot", "account", "proof"],
        "properties": {
            "chainId": {"type": "integer"},
            "member": ADDRESS,
            "height": {"type": "integer"},
            "stateRoot": HEX,
            "account": HEX,
            "proof": HEX,
        },
    },
    "Submitted": {
        "type": "object",
        "required": ["tx_hash", "status"],
        "properties": {"tx_hash": HEX, "status": {"const": "pending"}},
    },
    "TxOutcome": {
        "type": "object",
        "required": ["tx_hash", "status"],
        "description": "A pending transaction has only tx_hash and status; a committed one "
        "its block height, index in the block, result code ('ok' or the refusal's class) "
        "with detail, and its events (trade_rejected etc.; bytes as 0x-hex).",
        "properties": {
            "tx_hash": HEX,
            "status": {"enum": ["pending", "committed"]},
            "height": {"type": "integer"},
            "index": {"type": "integer"},
            "code": {"type": "string"},
            "detail": {"type": "string"},
            "events": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["kind", "fields"],
                    "properties": {"kind": {"type": "string"}, "fields": {"type": "object"}},
                },
            },
        },
    },
    "Block": {
        "type": "object",
        # `block` (its bytes, hence its transactions) only on the operator listener
        # the header's other fields and the certificate: on networks of our engine only
        "required": ["height", "engine", "hash", "state_root", "txs", "tx_kinds"],
        "properties": {
            "height": {"type": "integer"},
            "engine": {"enum": ["clearnode", "cometbft"]},
            "hash": HEX,
            "chain_id": {"type": "string"},
            "time_ms": {"type": "integer"},
            "prev_block_hash": HEX,
            "prev_state_root": HEX,
            "state_root": {
                **HEX,
                "type": ["string", "null"],
                "description": "The state root after the block; null for a block this node "
                "did not apply (one a state-synced node keeps for light clients' walks)",
            },
            "txs_hash": HEX,
            "proposer": HEX,
            "validators_hash": HEX,
            "next_validators_hash": HEX,
            "txs": {"type": "integer"},
            "tx_kinds": {"type": "object", "additionalProperties": {"type": "integer"}},
            "evidence": {"type": "integer"},
            "cert": HEX,
            "block": {**HEX, "description": "the block's bytes: operator listener only"},
        },
    },
    "Validators": {
        "type": "object",
        "properties": {
            "total_power": {"type": "integer"},
            "validators": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "pubkey": HEX,
                        "power": {"type": "integer"},
                        "evm_address": ADDRESS,
                        "jailed": {
                            "description": "null, or why its power is 0: the height of the "
                            "equivocation, of the block that jailed it, and the power an "
                            "unjail_validator change gives back",
                            "type": ["object", "null"],
                            "properties": {
                                "evidence_height": {"type": "integer"},
                                "height": {"type": "integer"},
                                "power": {"type": "integer"},
                            },
                        },
                    },
                },
            },
        },
    },
    "Prices": {
        "type": "object",
        "properties": {
            "index": {"type": "object", "additionalProperties": {"type": "integer"}},
            "mark": {"type": "object", "additionalProperties": {"type": "integer"}},
            "time_ms": {"type": "integer"},
        },
    },
    "Status": {
        "type": "object",
        "required": ["chain_id", "height"],
        "properties": {
            "chain_id": {"type": "integer"},
            "moniker": {"type": "string"},
            "height": {"type": "integer"},
            "time_ms": {"type": "integer"},
            "mempool": {"type": "object"},
        },
    },
    "ExternalEvent": {
        "type": "object",
        "required": ["event"],
        "properties": {
            "event": {**HEX, "description": "SignedExternalEvent.encode() (bridge/external.py)"}
        },
        "description": "Or send the encoded event as an application/msgpack body.",
    },
    "ExternalEventAccepted": {
        "type": "object",
        "required": ["deposit", "attested_by", "status"],
        "properties": {
            "deposit": {
                "type": "object",
                "description": "The dedup key: chain_id, vault, deposit_nonce",
            },
            "attested_by": {
                "type": ["string", "null"],
                "description": "This node's validator key, which attested it (null: this "
                "node is not a validator)",
            },
            "status": {"const": "gossiped"},
        },
    },
    "GovProposal": {
        "type": "object",
        "description": "A proposal as the state records it (docs/governance.md). status: "
        "voting, passed (waiting for execute_height), rejected, executed or failed; "
        "execute_height 0 for emergency changes (executed when they pass). Each change is "
        "{kind, named fields} (clearing/governance/change_form.py).",
        "required": [
            "id",
            "proposer",
            "digest",
            "changes",
            "submitted_height",
            "deadline_height",
            "execute_height",
            "emergency",
            "status",
            "decided_height",
            "finished_height",
            "ballots",
            "tally",
        ],
        "properties": {
            "id": {"type": "integer"},
            "proposer": HEX,
            "digest": HEX,
            "changes": {
                "type": "array",
                "items": {"type": "object", "required": ["kind"]},
            },
            "submitted_height": {"type": "integer"},
            "deadline_height": {"type": "integer"},
            "execute_height": {"type": "integer"},
            "emergency": {"type": "boolean"},
            "status": {"enum": ["voting", "passed", "rejected", "executed", "failed"]},
            "decided_height": {"type": "integer"},
            "finished_height": {"type": "integer"},
            "ballots": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["voter", "choice", "sequence", "height"],
                    "properties": {
                        "voter": HEX,
                        "choice": {"enum": ["yes", "no", "abstain"]},
                        "sequence": {"type": "integer"},
                        "height": {"type": "integer"},
                    },
                },
            },
            "tally": {
                "type": "object",
                "description": "Voting power; passing: 3 * yes > 2 * total_power",
                "required": ["yes", "no", "abstain", "total_power", "passing"],
            },
        },
    },
    "GovProposals": {
        "type": "object",
        "required": ["height", "proposals"],
        "properties": {
            "height": {"type": "integer"},
            "proposals": {"type": "array", "items": {"$ref": "#/components/schemas/GovProposal"}},
        },
    },
    "GovEvents": {
        "type": "object",
        "required": ["height", "events"],
        "properties": {
            "height": {"type": "integer"},
            "events": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["height", "kind", "fields"],
                    "properties": {
                        "height": {"type": "integer"},
                        "kind": {"type": "string"},
                        "fields": {"type": "object"},
                    },
                },
            },
        },
    },
    "GovConfiguration": {
        "type": "object",
        "description": "The configuration in force: each instrument's genesis entry with its "
        "status (active, halted, reduce_only) and whether it is settled, the risk section, "
        "the collateral tokens with their haircuts, the share of fees that goes to the "
        "insurance fund, venues, external bridges, listing templates and the governance "
        "periods.",
        "required": [
            "height",
            "instruments",
            "risk",
            "collateral",
            "fees",
            "venues",
            "external_bridges",
            "listing_templates",
            "governance",
        ],
        "properties": {
            "height": {"type": "integer"},
            "instruments": {"type": "array", "items": {"type": "object"}},
            "risk": {"type": "object"},
            "collateral": {"type": "array", "items": {"type": "object"}},
            "fees": {"type": "object"},
            "venues": {"type": "array", "items": {"type": "object"}},
            "external_bridges": {"type": "array", "items": {"type": "object"}},
            "listing_templates": {"type": "array", "items": {"type": "object"}},
            "governance": {"type": "object"},
        },
    },
    "Account": {
        "type": "object",
        "description": "A member's own sub-account: balances, positions, margin, "
        "liquidation prices and margin call (integers in the ledger's units).",
        "properties": {
            "member": ADDRESS,
            "subAccount": {"type": "integer"},
            "height": {"type": "integer"},
            "cash": {"type": "integer"},
            "nextNonce": {
                "type": "integer",
                "description": "One above the highest nonce the member spent (0 if none), "
                "requests a block refused included: a nonce the member's next request may "
                "use. A 404 UnknownSubAccount carries it as details.next_nonce.",
            },
            "collateral": {"type": "array", "items": {"type": "object"}},
            "withdrawable": {
                "type": "array",
                "items": {"type": "object"},
                "description": "Per chain and token (every token held, and the settlement "
                "token on every chain): the most a withdrawal may ask for at this height, "
                "`quanta`, of which `fromCash` would come from positive cash. All zero while "
                "withdrawals are halted (status `clearing_house.withdrawals_halted`).",
            },
            "positions": {"type": "array", "items": {"type": "object"}},
            "auctions": {
                "type": "array",
                "items": {"type": "object"},
                "description": "For a member registered as a bidder (RegisterBidder): every "
                "open default auction, its round, closing height and the lots a winning bid "
                "takes at the mark (quantity as the bidder would hold it). Empty otherwise.",
            },
            "risk": {"type": ["object", "null"]},
            "marginCall": {
                "type": ["object", "null"],
                "description": "The sub-account's open margin call, or null. While it is "
                "open only trades that reduce a position are accepted; unless equity is back "
                "at initial margin by the end of block deadlineHeight the sub-account is "
                "liquidated (at once if equity falls below maintenance margin).",
                "required": ["amountDue", "openedHeight", "deadlineHeight", "blocksLeft"],
                "properties": {
                    "amountDue": {
                        "type": "integer",
                        "description": "Initial margin minus equity when the call opened.",
                    },
                    "openedHeight": {"type": "integer"},
                    "deadlineHeight": {"type": "integer"},
                    "blocksLeft": {
                        "type": "integer",
                        "description": "Blocks after this height in which the call may still "
                        "be met (deadlineHeight - height, at least 0).",
                    },
                },
            },
        },
    },
}

ERROR_TEXT = {
    400: "Malformed body, wrong field, wrong chain id or undecodable transaction",
    401: "Signature does not verify, or the query is too old",
    404: "Not found",
    409: "Replay: already pending or already applied",
    410: "Pruned: this node no longer holds it (the answer names the first height it holds)",
    413: "Body or transaction too large",
    415: "Unsupported content type",
    422: "Refused by the clearing rules",
    503: "Mempool full",
}
COMMON_ERRORS = (400, 404, 405, 413, 500)


def build_document(routes: list[RouteDoc], version: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        operation: dict[str, Any] = {
            "operationId": route.operation_id,
            "summary": route.summary,
            "x-tier": route.tier,
            "responses": {
                str(route.status): {
                    "description": "Success",
                    "content": {
                        route.content_type: {
                            "schema": {"$ref": f"#/components/schemas/{route.response}"}
                        }
                    },
                },
                **{
                    str(code): {
                        "description": ERROR_TEXT.get(code, "Error"),
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                        },
                    }
                    for code in sorted({*COMMON_ERRORS, *route.errors})
                },
            },
        }
        params = [p[1:-1] for p in route.path.split("/") if p.startswith("{")]
        if params:
            operation["parameters"] = [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                for p in params
            ]
        if route.request is not None:
            content = {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{route.request}"}}
            }
            if route.request in ("EncodedTx", "ExternalEvent"):
                content["application/msgpack"] = {"schema": {"type": "string", "format": "binary"}}
            operation["requestBody"] = {
                "required": True,
                "description": f"At most {route.max_body_bytes:,} bytes (413 BodyTooLarge above).",
                "x-max-body-bytes": route.max_body_bytes,
                "content": content,
            }
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "clearnode API",
            "version": version,
            "description": "Submit venue trade batches, member requests and bridge events; "
            "read blocks, validators, prices and status; query your own account with an "
            "EIP-712 signature. Amounts and prices are integers in the ledger's units. "
            "Each operation's x-tier says who may use it: public (anyone), member (a request "
            "the member signed), venue (a batch the venue signed), bridge (events the "
            "validators attested, or a registered external bridge signed), validator (a "
            "governance proposal or ballot a validator signed), submitter (whoever holds "
            "the transaction's hash), "
            "operator (the node's operator listener only; docs/privacy.md).",
        },
        "paths": paths,
        "components": {"schemas": SCHEMAS},
    }
