"""The SDK's per-method reference, made from its signatures and docstrings.

`python -m clearnode.client.reference` prints it as Markdown for the version installed;
the repository keeps it as docs/sdk-reference.md, which tests/clearnode/client/
test_reference.py fails to match once a signature or docstring changes (regenerate:
`python -m clearnode.client.reference > docs/sdk-reference.md`). A public call without a
docstring stops the generation: every one must read well here.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Annotated, Any, ForwardRef, get_args, get_origin, is_typeddict

import clearnode.client as sdk
from bridge.withdrawal_relay import RelayOutcome
from clearnode.client import (
    errors,
    jsonrpc,
    reserves,
    signers,
    transactions,
    vault,
    verify,
    views,
)

REGENERATE = "python -m clearnode.client.reference > docs/sdk-reference.md"


class MissingDocstring(Exception):
    """A public call of the SDK has no docstring for the reference."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} has no docstring: write one (it is its entry in the reference)")
        self.name = name


@dataclass(frozen=True)
class Section:
    """One heading of the reference: classes with their public members (`members`), or
    classes and functions by their signature and docstring alone."""

    title: str
    intro: str
    entries: tuple[Any, ...]
    members: bool = True


SECTIONS = (
    Section(
        "Client",
        "One node's HTTP API. Every call is async (httpx, under asyncio or trio); a "
        "refusal raises its `ApiError` (below).",
        (sdk.Client,),
    ),
    Section(
        "Keys and signing",
        "Who signs: a member's secp256k1 key (EIP-712) and a venue's Ed25519 key. Every "
        "request is signed for one network (`chain_id`) and nonce, issued at "
        "`issued_at_ms` (when it is signed) and valid until `expires_ms`.",
        (sdk.Member, sdk.Venue),
    ),
    Section(
        "Records",
        "clearing's own records, re-exported: what a venue fills in and a member signs.",
        (sdk.Trade,),
        members=False,
    ),
    Section(
        "Chain calls (JSON-RPC, no web3)",
        "Deposits into a vault and relaying withdrawals, in the base install: the calls "
        "encoded from the vault's committed ABI, signed by eth-account and sent over the "
        "chain's JSON-RPC (`clearnode.client.transactions`). They block: from async code "
        "run them in a worker thread. A transaction that does not succeed is a "
        "`TransactionError`, a chain that cannot be read a `JsonRpcError` (below).",
        (
            sdk.Vault,
            vault.connect,
            vault.account_from_key,
            transactions.Receipt,
            RelayOutcome,
            vault.RpcVaults,
            transactions.send_transaction,
            transactions.submit_transaction,
            transactions.wait_for_receipt,
            transactions.SentTransaction,
        ),
    ),
    Section(
        "Verification",
        "`clearnode verify`'s checks and verdict (proofs/report_check.py `check_report`, the same "
        "function) on what `Client` fetched: the full check by default, less only by name "
        "(`skip`), and the verdict says so. Without the native core (clearnode-client has "
        "none) the pure-Python group does the group arithmetic: the same verdicts, slower "
        '(docs/sdk.md, "What a check costs").',
        (
            sdk.verify_report,
            verify.CheckOptions,
            sdk.pin_genesis,
            sdk.ReportCheck,
            sdk.GivenGenesis,
            verify.check_account_proof,
        ),
    ),
    Section(
        "Chain reads (JSON-RPC, no web3)",
        "An EVM chain's JSON-RPC read with httpx and eth-abi, in the base install: how "
        "`verify_report(rpc=...)` and `clearnode verify --rpc` read the vaults "
        "(`clearnode.client.reserves`). Synchronous: from async code run it in a worker "
        "thread. Every failure is a `JsonRpcError` (below).",
        (sdk.JsonRpc, jsonrpc.encode_call, jsonrpc.get_topic, reserves.read_vaults),
    ),
    Section(
        "Streams",
        "Server-Sent Events, as `Client.events` and `stream_history` yield them.",
        (sdk.ServerEvent,),
    ),
)


def get_attribute_docs(module: ModuleType) -> dict[str, str]:
    """The docstrings written under a module's constants (`NAME = ...` then a string)."""
    found: dict[str, str] = {}
    body = ast.parse(inspect.getsource(module)).body
    for statement, following in itertools.pairwise(body):
        if (
            isinstance(statement, ast.Assign | ast.AnnAssign)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    found[target.id] = inspect.cleandoc(following.value.value)
    return found


def get_doc(obj: Any, name: str) -> str:
    doc = obj.__doc__ if isinstance(obj, property) else inspect.getdoc(obj)
    if not doc or (inspect.isclass(obj) and obj.__doc__ is None):
        raise MissingDocstring(name)
    return inspect.cleandoc(doc)


def format_annotation(annotation: Any, namespace: dict[str, Any] | None = None) -> str:
    """An annotation as the source writes it (they are strings, or a TypedDict's
    forward references, under `from __future__ import annotations`), except that a name
    of a wire declaration (`Uint`, `Address`: `Annotated[int, ...]`, a record field's
    bounds, records/declared.py) is the Python type a caller passes."""
    if isinstance(annotation, str):
        alias = (namespace or {}).get(annotation)
        if get_origin(alias) is Annotated:
            return format_annotation(get_args(alias)[0])
        return annotation
    if isinstance(annotation, ForwardRef):
        return annotation.__forward_arg__
    return getattr(annotation, "__name__", repr(annotation))


def format_signature(function: Callable[..., Any], skip_first: bool, returns: bool = True) -> str:
    """`(name: type = default, ...) -> type` as the source writes it, without self/cls."""
    signature = inspect.signature(function, eval_str=False)
    namespace = vars(sys.modules[function.__module__])
    parameters = list(signature.parameters.values())[1 if skip_first else 0 :]
    parts: list[str] = []
    starred = False
    for parameter in parameters:
        text = parameter.name
        if parameter.kind is parameter.VAR_POSITIONAL:
            text, starred = "*" + text, True
        elif parameter.kind is parameter.VAR_KEYWORD:
            text = "**" + text
        elif parameter.kind is parameter.KEYWORD_ONLY and not starred:
            parts.append("*")
            starred = True
        if parameter.annotation is not parameter.empty:
            text += f": {format_annotation(parameter.annotation, namespace)}"
        if parameter.default is not parameter.empty:
            text += f" = {parameter.default!r}"
        parts.append(text)
    annotation = signature.return_annotation
    arrow = (
        f" -> {format_annotation(annotation, namespace)}"
        if returns and annotation is not signature.empty
        else ""
    )
    return f"({', '.join(parts)}){arrow}"


def describe_function(function: Callable[..., Any], name: str, method: bool) -> str:
    keyword = "async def" if inspect.iscoroutinefunction(function) else "def"
    if inspect.isasyncgenfunction(function):
        keyword = "async def"
    return f"{keyword} {name}{format_signature(function, method)}"


def get_members(cls: type) -> Iterator[tuple[str, Any]]:
    """The public methods, class methods and properties `cls` defines, in source order."""
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(member, property | classmethod | staticmethod) or inspect.isfunction(member):
            yield name, member


def render_member(cls: type, name: str, member: Any) -> list[str]:
    qualified = f"{cls.__name__}.{name}"
    if isinstance(member, property):
        returns = inspect.signature(member.fget, eval_str=False).return_annotation  # type: ignore[arg-type]
        code = f"property {name}: {format_annotation(returns)}"
    elif isinstance(member, classmethod | staticmethod):
        bound = isinstance(member, classmethod)
        decorator = "@classmethod" if bound else "@staticmethod"
        member = member.__func__
        code = f"{decorator}\n{describe_function(member, name, bound)}"
    else:
        code = describe_function(member, name, True)
    return [f"#### `{qualified}`", "", "```python", code, "```", "", get_doc(member, qualified), ""]


def format_fields(kind: type) -> str:
    """A TypedDict's keys, each with its type."""
    return ", ".join(f"`{k}: {format_annotation(v)}`" for k, v in kind.__annotations__.items())


def render_entry(entry: Any, members: bool) -> list[str]:
    name = entry.__name__
    if not inspect.isclass(entry):
        code = describe_function(entry, name, False)
        return [f"### `{name}`", "", "```python", code, "```", "", get_doc(entry, name), ""]
    if is_typeddict(entry):
        return [f"### `{name}`", "", get_doc(entry, name), "", f"Keys: {format_fields(entry)}.", ""]
    signature = format_signature(entry, False, returns=False)
    lines = [f"### `{name}`", "", "```python", f"class {name}{signature}", "```", "",
             get_doc(entry, name), ""]  # fmt: skip
    if members:
        for member_name, member in get_members(entry):
            lines += render_member(entry, member_name, member)
    return lines


def render_errors() -> list[str]:
    kinds = [getattr(errors, name) for name in sdk.__all__ if hasattr(errors, name)]
    by_status = {kind: status for status, kind in errors.ERRORS_BY_STATUS.items()}
    lines = [
        "## Errors",
        "",
        "Every error is a `ClientError`. An `ApiError` carries the node's `type`, `message` "
        "and `details` and the HTTP `status`.",
        "",
        "| Class | Is a | Status | When |",
        "| --- | --- | --- | --- |",
    ]
    for kind in sorted(kinds, key=lambda k: (len(k.__mro__), by_status.get(k, 0), k.__name__)):
        doc = " ".join(get_doc(kind, kind.__name__).split())
        status = str(by_status.get(kind, ""))
        lines.append(f"| `{kind.__name__}` | `{kind.__mro__[1].__name__}` | {status} | {doc} |")
    return [*lines, ""]


def render_views() -> list[str]:
    """The JSON answers as views.py types them, each field with its type."""
    lines = ["## Answers", "", get_doc(views, "clearnode.client.views"), ""]
    for name, kind in vars(views).items():
        if not (inspect.isclass(kind) and kind.__module__ == views.__name__):
            continue
        doc = "" if kind.__doc__ is None else " ".join(inspect.cleandoc(kind.__doc__).split()) + " "
        lines.append(f"- `{name}`: {doc}Fields: {format_fields(kind)}.")
    return [*lines, ""]


def render_constants() -> list[str]:
    docs = get_attribute_docs(signers)
    lines = ["## Constants (`clearnode.client.signers`)", ""]
    for name in ("REQUEST_LIFETIME_MS", "BATCH_LIFETIME_MS"):
        value = getattr(signers, name)
        lines.append(f"- `{name} = {value:_}`: {' '.join(docs[name].split())}")
    lines.append(f"- `MemberRequest`: {' '.join(docs['MemberRequest'].split())}")
    return [*lines, ""]


def get_reference() -> str:
    """docs/sdk-reference.md, as the installed SDK makes it."""
    lines = [
        "# SDK reference (`clearnode.client`)",
        "",
        f"<!-- Generated from the docstrings: `{REGENERATE}`. Edit them, not this file. -->",
        "",
        "Every public call of the client SDK (docs/sdk.md is the guide). Install it on its "
        'own as `clearnode-client` (docs/sdk.md, "Install"); all of it is importable from '
        "`clearnode.client` unless its module is named.",
        "",
    ]
    for section in SECTIONS:
        lines += [f"## {section.title}", "", section.intro, ""]
        for entry in section.entries:
            lines += render_entry(entry, section.members)
    lines += render_errors() + render_views() + render_constants()
    return "\n".join(lines).rstrip("\n") + "\n"


def get_documented_names() -> set[str]:
    """The names of clearnode.client the reference has an entry for."""
    named = {entry.__name__ for section in SECTIONS for entry in section.entries}
    kinds = {name for name in sdk.__all__ if hasattr(errors, name)}
    return named | kinds | {"MemberRequest"}


if __name__ == "__main__":
    sys.stdout.write(get_reference())
