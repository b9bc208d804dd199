import pytest

from clearing.attestation import (
    Attestation,
    compute_signing_bytes,
    is_quorum,
    sign_attestation,
    verify_quorum_attestations,
)
from clearing.errors import BadSignature, DuplicateSigner, QuorumNotReached, UnknownSigner
from clearnode.client.sandbox_keys import derive_ed25519_key
from tests.clearing.support import new_sandbox

BODY = [1, b"x", "y"]


@pytest.mark.parametrize(
    ("signed", "total", "expected"),
    [(3, 4, True), (2, 3, False), (67, 100, True), (66, 100, False), (0, 0, False), (1, 1, True)],
)
def test_quorum_is_strictly_more_than_two_thirds(signed: int, total: int, expected: bool) -> None:
    assert is_quorum(signed, total) is expected


def _attest(n: int, chain_id: int = 4242, domain: str = "test") -> list[Attestation]:
    box = new_sandbox()
    return [sign_attestation(k, domain, chain_id, BODY) for k in box.validator_keys[:n]]


def _verify(attestations: list[Attestation]) -> int:
    box = new_sandbox()
    message = compute_signing_bytes("test", 4242, BODY)
    return verify_quorum_attestations(box.state.validators, 40, attestations, message)


def test_three_of_four_equal_validators_reach_quorum() -> None:
    assert _verify(_attest(3)) == 30


def test_two_of_four_do_not() -> None:
    with pytest.raises(QuorumNotReached) as info:
        _verify(_attest(2))
    assert (info.value.signed_power, info.value.total_power) == (20, 40)


def test_unknown_signer_is_rejected() -> None:
    stranger = sign_attestation(derive_ed25519_key("stranger"), "test", 4242, BODY)
    with pytest.raises(UnknownSigner):
        _verify([*_attest(3), stranger])


def test_duplicate_signer_cannot_double_count() -> None:
    two = _attest(2)
    with pytest.raises(DuplicateSigner):
        _verify([*two, two[0]])


@pytest.mark.parametrize(("chain_id", "domain"), [(4243, "test"), (4242, "other")])
def test_signature_is_bound_to_chain_and_domain(chain_id: int, domain: str) -> None:
    with pytest.raises(BadSignature):
        _verify(_attest(3, chain_id, domain))
