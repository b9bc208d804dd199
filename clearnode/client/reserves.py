"""The vaults' reserves, read on chain over JSON-RPC (clearnode/client/jsonrpc.py, no
web3): each genesis vault's balance of every collateral token of its chain, and what its
`Withdrawn` logs paid out of each since the chain's first block, at the chain's last
block at or before the report's time (the time of the header that commits to its state
root; proofs/reserves.py compares them with a report).
`clearnode verify --rpc` reads the vaults with this module too, so the SDK and the CLI
say the same of the same chain. A chain that cannot be read is `Unreadable` with the
reason, `URL: KIND: MESSAGE` in the browser verifier's words: the verifier says it could
not check, never crashes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from eth_abi.abi import decode
from eth_abi.exceptions import DecodingError

from clearing.assets import NATIVE
from clearing.genesis import Genesis
from clearnode.client.errors import JsonRpcError, RpcBadAnswer
from clearnode.client.jsonrpc import RPC_TIMEOUT_S, JsonRpc, encode_call, get_topic
from proofs.reserves import Unreadable, VaultReading

BALANCE_OF = "balanceOf(address)"
"""The ERC-20 view of a holder's balance."""
WITHDRAWN = "Withdrawn(uint256,address,address,uint256,address)"
"""The vault's event of a payout: nonce, member and token indexed; amount and recipient
in its data (bridge/contracts/CollateralVault.sol)."""
NO_REPORT_TIME = (
    "the report carries no anchor, whose header's time says which block to read the chain "
    "at: give the chain's block (--block CHAIN_ID=N)"
)


def read_vaults(
    genesis: Genesis,
    urls: Mapping[int, str],
    blocks: Mapping[int, int],
    time_ms: int | None,
    timeout_s: float = RPC_TIMEOUT_S,
) -> dict[int, VaultReading | Unreadable]:
    """Each chain of `urls`: its genesis vault's balance of every genesis token on it, and
    what it paid out of each since the chain's first block, at `blocks[chain]`, else at
    the chain's last block no later than `time_ms` (the report's time: None when it has
    no anchor to tell it, and the chain is then read only at a block given)."""
    vaults = {v.chain_id: v.address for v in genesis.vaults}
    readings: dict[int, VaultReading | Unreadable] = {}
    for chain_id, url in sorted(urls.items()):
        vault = vaults.get(chain_id)
        if vault is None:
            readings[chain_id] = Unreadable(chain_id, "genesis names no vault on this chain")
            continue
        tokens = [t.token for t in genesis.collateral if t.chain_id == chain_id]
        given = blocks.get(chain_id)
        if given is None and time_ms is None:
            readings[chain_id] = Unreadable(chain_id, NO_REPORT_TIME)
            continue
        try:
            with JsonRpc.connect(url, chain_id, timeout_s) as rpc:
                if given is None:
                    assert time_ms is not None  # a chain with neither is unreadable above
                    given = find_block_at(rpc, time_ms)
                readings[chain_id] = read_vault(rpc, vault, tokens, given)
        except JsonRpcError as exc:
            readings[chain_id] = Unreadable(chain_id, f"{url}: {exc.kind}: {exc}")
    return readings


def read_vault(rpc: JsonRpc, vault: bytes, tokens: Sequence[bytes], block: int) -> VaultReading:
    """The vault's balance of each token (`NATIVE`: the chain's coin) at `block`, and
    what its `Withdrawn` logs paid of each up to it."""
    balances = {token: get_balance(rpc, vault, token, block) for token in tokens}
    return VaultReading(
        rpc.chain_id, vault, block, balances, get_withdrawn(rpc, vault, tokens, block)
    )


def get_balance(rpc: JsonRpc, holder: bytes, token: bytes, block: int) -> int:
    """`holder`'s balance of `token` at `block`: 0 where the token has no code (an
    ERC-20 not deployed holds nothing)."""
    if token == NATIVE:
        return rpc.balance(holder, block)
    found = rpc.call(token, encode_call(BALANCE_OF, holder), block)
    if not found:
        return 0
    if len(found) != 32:
        raise RpcBadAnswer(rpc.url, "eth_call", f"balanceOf returned {len(found)} bytes, not 32")
    return int.from_bytes(found)


def get_withdrawn(
    rpc: JsonRpc, vault: bytes, tokens: Sequence[bytes], block: int
) -> dict[bytes, int]:
    """What the vault's `Withdrawn(nonce, member, token, amount, recipient)` logs paid
    out of each token up to `block` (its token is the third topic, its amount the first
    word of its data)."""
    paid = dict.fromkeys(tokens, 0)
    for log in rpc.logs(vault, get_topic(WITHDRAWN), 0, block):
        try:
            if len(log.topics) != 4:
                raise DecodingError(f"{len(log.topics)} topics, not 4")
            (token,) = decode(["address"], log.topics[3])
            amount, _ = decode(["uint256", "address"], log.data)
        except DecodingError as exc:
            broken = f"a Withdrawn log of block {log.block_number} that does not decode: {exc}"
            raise RpcBadAnswer(rpc.url, "eth_getLogs", broken) from None
        key = bytes.fromhex(token[2:])
        if key in paid:
            paid[key] += amount
    return paid


def find_block_at(rpc: JsonRpc, time_ms: int) -> int:
    """The last block whose timestamp is at or before `time_ms` (binary search over block
    timestamps, which never decrease); the chain's first block if all are later."""
    low, high = 0, rpc.block_number()
    while low < high:
        middle = (low + high + 1) // 2
        if rpc.block_time_ms(middle) <= time_ms:
            low = middle
        else:
            high = middle - 1
    return low
