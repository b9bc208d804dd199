"""Quiet links are probed, and only a link silent through two probes is dead
(node/p2p/probes.py); a real host closes such a link: test_frozen_peer.py."""

from __future__ import annotations

from node.p2p.probes import QUIET_S, UNANSWERED_TO_CLOSE, QuietLinks


def test_a_peer_is_probed_once_quiet_and_never_twice_at_once() -> None:
    links = QuietLinks()
    assert links.get_due(["a", "b"], 10.0) == []  # first seen: heard now
    links.note_heard("b", 10.0 + QUIET_S / 2)
    assert links.get_due(["a", "b"], 10.0 + QUIET_S) == ["a"]
    links.probing.add("a")
    assert links.get_due(["a", "b"], 10.0 + 2 * QUIET_S) == ["b"]


def test_only_probes_unanswered_in_a_row_with_nothing_heard_make_a_link_dead() -> None:
    links = QuietLinks()
    links.get_due(["a"], 0.0)
    assert [links.is_dead("a", 1.0) for _ in range(UNANSWERED_TO_CLOSE)] == [False, True]
    links.note_heard("a", 5.0)  # an answer, or gossip: the count starts again
    assert not links.is_dead("a", 6.0)
    links.note_heard("a", 7.5)  # heard while the probe sent at 7.0 waited
    assert not links.is_dead("a", 7.0)
    assert [links.is_dead("a", 8.0), links.is_dead("a", 9.0)] == [False, True]


def test_a_peer_gone_is_forgotten() -> None:
    links = QuietLinks()
    links.get_due(["a"], 0.0)
    links.is_dead("a", 1.0)
    links.get_due([], 2.0)
    assert links.heard == {} and links.unanswered == {}
