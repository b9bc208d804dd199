"""Scores: offences lead to exactly one ban signal; valid traffic earns points back up to a cap."""

from __future__ import annotations

from node.p2p.scoring import Offence, PeerScores, ScoreParams, compute_backoff_s


def test_ban_is_signalled_once_when_the_floor_is_crossed() -> None:
    scores = PeerScores(ScoreParams(ban_at=-100))
    signals = [scores.process_offence("p", Offence.INVALID) for _ in range(6)]
    assert signals == [False, False, False, True, False, False]
    assert scores.get_score("p") == -150


def test_valid_traffic_earns_back_up_to_the_cap() -> None:
    scores = PeerScores(ScoreParams(max_score=3))
    scores.process_offence("p", Offence.OVERSIZED)
    for _ in range(100):
        scores.process_valid("p")
    assert scores.get_score("p") == 3
    scores.forget("p")
    assert scores.get_score("p") == 0


def test_backoff_doubles_then_caps() -> None:
    assert [compute_backoff_s(a, 0.25, 1.5) for a in range(5)] == [0.25, 0.5, 1.0, 1.5, 1.5]
    assert compute_backoff_s(10_000, 0.25, 1.5) == 1.5


def test_every_offence_is_its_own_member() -> None:
    """Equal enum values would make aliases: an INVALID would be charged and logged as
    another offence."""
    assert len(list(Offence)) == len(Offence.__members__) == 4
    for name, offence in Offence.__members__.items():
        assert offence.name == name
        assert offence.penalty > 0
