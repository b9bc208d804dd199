from tests.clearing.support import ALICE, assert_rejected, new_sandbox, only_result


def test_member_authorises_and_revokes_a_venue() -> None:
    box = new_sandbox()
    assert only_result(box.apply([box.authorise(ALICE, "alpha")]))[0] == "ok"
    assert box.state.members[ALICE.address].venues == {"alpha"}
    assert only_result(box.apply([box.authorise(ALICE, "alpha", False)]))[0] == "ok"
    assert box.state.members[ALICE.address].venues == set()


def test_unknown_venue_and_replay_are_rejected() -> None:
    box = new_sandbox()
    assert_rejected(box, box.authorise(ALICE, "beta"), "UnknownVenue")
    tx = box.authorise(ALICE, "alpha")
    box.apply([tx])
    assert_rejected(box, tx, "NonceReused")
