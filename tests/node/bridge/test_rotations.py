"""The rotation duty against a real vault (trusting the four test validators) whose
consensus set lost validator 3: each member signs once, a restarted validator signs
the same bytes, the book counts them once, two relayers racing rotate the vault
once, and the validators then see it in sync."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from eth_utils import to_checksum_address

from bridge.anvil import DEV_PRIVATE_KEY
from bridge.chain import Chain, account_from_key, connect
from bridge.devchain import DevnetChain, mine
from bridge.eip712 import get_address
from bridge.relayer import relay_rotations
from bridge.rotation import (
    Rotation,
    RotationSignature,
    get_rotation_relay_json,
    sign_rotation_message,
)
from bridge.validators import EvmValidatorSet
from bridge.vault import get_validator_set
from bridge.withdrawal import WithdrawalError
from clearnode.client.sandbox_keys import derive_seed
from node.bridge.chains import VaultReader
from node.bridge.gossip import (
    IGNORES,
    BridgeCheck,
    NotInCurrentSet,
    UnknownEvmSigner,
    encode_message,
)
from node.bridge.pools import RotationBook
from node.bridge.rotations import VaultRotator
from node.config import BridgeChainConfig
from tests.node.bridge.support import (
    BRIDGE_KEYS,
    CHAIN_ID,
    get_genesis,
    get_state_in_force,
    make_check,
)

GENESIS = get_genesis()
ADDRESSES = [get_address(k) for k in BRIDGE_KEYS]
REMAINING = [(a, 10) for a in ADDRESSES[:3]]  # validator 3 left the consensus set
SECOND_RELAYER = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"  # anvil #1


def make_rotation(vault: bytes, members: list[tuple[bytes, int]] = REMAINING) -> Rotation:
    current = EvmValidatorSet.from_members(0, [(a, 10) for a in ADDRESSES])
    return Rotation(CHAIN_ID, vault, current, EvmValidatorSet.from_members(1, members))


@pytest.mark.chain
async def test_members_sign_once_restarts_sign_the_same_and_the_vault_rotates_once(
    tmp_path: Path, chain: tuple[Chain, DevnetChain]
) -> None:
    evm, deployed = chain
    config = BridgeChainConfig("anvil", CHAIN_ID, deployed.url, "0x" + deployed.vault.hex(), 1)
    sent: list[RotationSignature] = []

    async def send(signed: RotationSignature) -> None:
        sent.append(signed)

    def start(key: bytes | None) -> VaultRotator:
        return VaultRotator({CHAIN_ID: VaultReader(config)}, {}, lambda: REMAINING, lambda: key,
                            send)  # fmt: skip

    rotator = start(BRIDGE_KEYS[0])
    await rotator.check_all()
    await rotator.check_all()  # signed once per (current set, target)
    (first,) = sent
    assert first.rotation == make_rotation(deployed.vault)
    status = rotator.statuses[CHAIN_ID]
    assert status.to_json()["status"] == "rotating" and status.to_json()["target_epoch"] == 1
    await start(BRIDGE_KEYS[0]).check_all()  # a restart signs the very same bytes
    assert sent[1] == first
    await start(derive_seed("outsider")).check_all()
    await start(None).check_all()  # no bridge key: status only
    assert len(sent) == 2

    book = RotationBook(lambda: REMAINING, lambda c, v: status.current)
    assert book.add(sent[0]) and not book.add(sent[1])
    for key in BRIDGE_KEYS[1:3]:
        await start(key).check_all()
    for signed in sent[2:]:
        book.add(signed)
    best = book.get_best((CHAIN_ID, deployed.vault))
    assert best is not None and best[1].is_complete()
    body = get_rotation_relay_json(*best)

    # two relayers race: the vault rotates once; the loser read the new epoch first, or
    # its transaction was refused (at estimation, or mined and reverted: one lost fee)
    results: list[str] = []

    async def run_relayer(key: str) -> None:
        link = connect(deployed.url, CHAIN_ID)
        outcomes = await trio.to_thread.run_sync(
            relay_rotations, link, account_from_key(key), [body]
        )
        results.extend(o.result for o in outcomes)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_relayer, DEV_PRIVATE_KEY)
        nursery.start_soon(run_relayer, SECOND_RELAYER)
    assert sorted(results)[-1] == "rotated" and results.count("rotated") == 1, results
    (loser,) = [r for r in results if r != "rotated"]
    assert loser.startswith(("already rotated", "ContractReverted", "TransactionFailed")), loser
    vault = evm.contract("CollateralVault", to_checksum_address(deployed.vault))
    logs = vault.events.ValidatorSetRotated().get_logs(from_block=0)
    assert [log["args"]["epoch"] for log in logs] == [0, 1]
    (again,) = relay_rotations(evm, account_from_key(DEV_PRIVATE_KEY), [body])
    assert again.result == "already rotated: vault at epoch 1"

    mine(evm, 2)
    await rotator.check_all()
    assert status.to_json()["status"] == "in_sync" and status.to_json()["epoch"] == 1
    assert rotator.counters == {("anvil", "signed"): 1, ("anvil", "rotated"): 1}
    book.prune()  # the vault left epoch 0: its rotation signatures are forgotten
    assert book.entries[CHAIN_ID, deployed.vault] == {}
    assert get_validator_set(vault).addresses == sorted(a for a, _ in REMAINING)


@pytest.mark.chain
async def test_relayer_sends_nothing_the_vault_would_refuse(
    chain: tuple[Chain, DevnetChain],
) -> None:
    evm, deployed = chain
    relayer = account_from_key(DEV_PRIVATE_KEY)
    rotation = make_rotation(deployed.vault)
    two = [sign_rotation_message(rotation, k).signature for k in BRIDGE_KEYS[:2]]
    (short,) = relay_rotations(
        evm, relayer, [get_rotation_relay_json(rotation, rotation.collect(two))]
    )
    assert short.result == "no quorum: 20 of 40"
    # a served current set that is not the vault's (a forgery: the signer alone)
    alone = EvmValidatorSet.from_members(0, [(ADDRESSES[0], 10)])
    forged = Rotation(CHAIN_ID, deployed.vault, alone, rotation.target)
    signature = sign_rotation_message(forged, BRIDGE_KEYS[0]).signature
    body = get_rotation_relay_json(forged, forged.collect([signature]))
    assert body["complete"]
    (refused,) = relay_rotations(evm, relayer, [body])
    assert refused.result == "not from the vault's set: vault at epoch 0"
    (malformed,) = relay_rotations(evm, relayer, [{**body, "validators": ["0x12"]}])
    assert malformed.result.startswith("RelayJsonError")
    vault = evm.contract("CollateralVault", to_checksum_address(deployed.vault))
    assert get_validator_set(vault).epoch == 0


def test_book_keeps_one_signature_per_validator_and_serves_only_the_consensus_target() -> None:
    vault = bytes(range(20))
    consensus = REMAINING
    book = RotationBook(lambda: consensus)
    stale_target = make_rotation(vault, [(a, 10) for a in ADDRESSES[:2]])
    assert book.add(sign_rotation_message(stale_target, BRIDGE_KEYS[0]))
    assert book.get_best((CHAIN_ID, vault)) is None  # not the consensus set: not served
    rotation = make_rotation(vault)
    for key in BRIDGE_KEYS[:3]:  # validator 0 moves to the consensus target: replaced
        assert book.add(sign_rotation_message(rotation, key))
    assert len(book.entries[CHAIN_ID, vault]) == 3
    best = book.get_best((CHAIN_ID, vault))
    assert best is not None and best[0] == rotation and best[1].is_complete()
    later = Rotation(CHAIN_ID, vault, EvmValidatorSet(1, rotation.target.members),
                     EvmValidatorSet.from_members(2, [(a, 10) for a in ADDRESSES]))  # fmt: skip
    assert book.add(sign_rotation_message(later, BRIDGE_KEYS[1]))
    assert not book.add(sign_rotation_message(rotation, BRIDGE_KEYS[1]))  # an older epoch
    outside = Rotation(CHAIN_ID, vault, EvmValidatorSet.from_members(0, REMAINING),
                       rotation.target)  # fmt: skip
    with pytest.raises(WithdrawalError):  # validator 3 is not in that current set
        book.add(sign_rotation_message(outside, BRIDGE_KEYS[3]))
    # a node that reads the vault serves only rotations from the set it read
    reading = RotationBook(lambda: consensus, lambda c, v: EvmValidatorSet(0, ((ADDRESSES[0], 1),)))
    reading.add(sign_rotation_message(rotation, BRIDGE_KEYS[0]))
    assert reading.get_best((CHAIN_ID, vault)) is None


def test_rotation_gossip_passes_from_a_member_and_is_refused_from_anyone_else() -> None:
    check = make_check(GENESIS)
    rotation = make_rotation(bytes(range(20)))
    signed = sign_rotation_message(rotation, BRIDGE_KEYS[0])
    assert check.decode(encode_message(GENESIS.chain_id, signed)) == signed
    outside = Rotation(rotation.chain_id, rotation.vault,
                       EvmValidatorSet.from_members(0, REMAINING), rotation.target)  # fmt: skip
    with pytest.raises(NotInCurrentSet) as caught:
        check.decode(
            encode_message(GENESIS.chain_id, sign_rotation_message(outside, BRIDGE_KEYS[3]))
        )
    assert (caught.value.signer, caught.value.epoch) == (ADDRESSES[3], 0)


def test_a_signer_that_lost_its_power_passes_only_during_its_rotation_grace() -> None:
    """Governance removed validators 2 and 3 at once: the vault still trusts their keys,
    and without them it cannot rotate. A node with a grace relays their rotation
    signatures; one without, or once the grace ended, ignores them (nobody penalised)."""
    removed = get_state_in_force(GENESIS, add=False, remove=(2, 3))
    rotation = make_rotation(bytes(range(20)), [(a, 10) for a in ADDRESSES[:2]])
    message = encode_message(GENESIS.chain_id, sign_rotation_message(rotation, BRIDGE_KEYS[3]))
    graced = BridgeCheck.from_genesis(GENESIS, lambda: removed, rotation_grace_blocks=10)
    assert graced.decode(message).signature  # type: ignore[union-attr]
    with pytest.raises(UnknownEvmSigner):
        make_check(GENESIS, removed).decode(message)
    removed.height = 10  # the removal's block was 0: ten blocks without power since
    with pytest.raises(UnknownEvmSigner):
        graced.decode(message)
    assert issubclass(UnknownEvmSigner, IGNORES)
