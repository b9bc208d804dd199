"""What each clique peer says it is linked to (node/p2p/clique_links.py): told when it
changes or to a peer new to it, forgotten when the peer goes; a peer speaks only for
itself, and of the clique only. The relay it drives is in test_router.py."""

from __future__ import annotations

import pytest

from node.p2p.clique_links import (
    MAX_PEER_ID_CHARS,
    CliqueLinks,
    decode_links,
    encode_links,
)
from records.codec import DecodeError, pack

CLIQUE = frozenset({"a", "b", "c", "d"})


def test_a_peer_is_told_when_it_is_new_and_when_the_links_change() -> None:
    links = CliqueLinks(CLIQUE)
    live, due = links.get_due("a", ["b", "c", "observer"])
    assert live == {"b", "c"} and due == ["b", "c"]
    links.told.update(b=live, c=live)
    assert links.get_due("a", ["b", "c"]) == (live, [])
    live, due = links.get_due("a", ["b", "c", "d"])
    assert live == {"b", "c", "d"} and due == ["b", "c", "d"]
    links.told.update(b=live, c=live, d=live)
    links.note_said("c", frozenset({"a", "d"}))
    assert links.get_due("a", ["b", "d"]) == (frozenset({"b", "d"}), ["b", "d"])
    assert "c" not in links.told and "c" not in links.said  # gone: forgotten


def test_a_peer_speaks_for_itself_and_of_the_clique_only() -> None:
    links = CliqueLinks(CLIQUE)
    assert not links.misses("c", "a")  # nothing said yet: linked, as before
    links.note_said("c", frozenset({"b", "d", "stranger"}))
    assert links.said["c"] == {"b", "d"}
    assert links.misses("c", "a") and not links.misses("c", "b")
    assert not links.misses("c", "c")
    links.note_said("observer", frozenset())
    assert "observer" not in links.said


def test_links_round_trip_and_are_bounded() -> None:
    assert decode_links(encode_links({"b", "a"})) == {"a", "b"}
    with pytest.raises(DecodeError):
        decode_links(pack([1, ["x" * (MAX_PEER_ID_CHARS + 1)]]))
    with pytest.raises(DecodeError):
        decode_links(pack([1, "a"]))
    with pytest.raises(DecodeError):
        decode_links(pack([1, [7]]))
