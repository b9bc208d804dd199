"""Who may talk to a host: the allowed peers (the validators and observers), less the
banned, past the genesis handshake; a connection with anyone else is closed at once.

A ban is ours alone (`Door.penalize`): the gossip of a banned peer is dropped
(node/p2p/gossip.py), its requests closed unanswered (node/p2p/requests.py) and its
connections closed here, never through py-libp2p's `Pubsub.add_to_blacklist`.
"""

from __future__ import annotations

import logging
from collections import Counter, OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any

import trio
from libp2p.abc import INetConn
from libp2p.peer.id import ID

from node.p2p.connections import (
    ConnectionWatch,
    close_connection,
    close_peer,
    disconnect_quietly,
    get_live_connections,
)
from node.p2p.genesis import GenesisGate
from node.p2p.scoring import Offence, PeerScores

log = logging.getLogger(__name__)

STRANGERS_LOGGED = 4096
"""Refused unknown peers remembered, so each is logged once, not once per attempt."""


class Door:
    """The peers a host admits, its bans and the connections it refuses.

    `allowed_peers` None admits everyone (the library's own tests); the ban, the refusals
    and a peer's score belong to this host alone."""

    def __init__(
        self,
        host: Any,
        allowed_peers: frozenset[str] | None,
        gate: GenesisGate,
        scores: PeerScores,
        watch: ConnectionWatch,
        nursery: trio.Nursery,
        counters: Counter[tuple[str, str]],
    ) -> None:
        self.allowed_peers = allowed_peers
        self.gate = gate
        self._host = host
        self._scores = scores
        self._watch = watch
        self._nursery = nursery
        self._counters = counters
        self._own = str(host.get_id())
        self._banned: set[str] = set()
        self._refused: Counter[str] = Counter()
        """Connections refused per banned peer, reported when its ban ends."""
        self._strangers: OrderedDict[str, None] = OrderedDict()
        """Peers outside `allowed_peers` refused so far (bounded), each logged once."""

    def is_allowed(self, peer: str) -> bool:
        return self.allowed_peers is None or peer in self.allowed_peers

    def is_banned(self, peer: str) -> bool:
        return peer in self._banned

    def admits(self, peer: str) -> bool:
        """Whether `peer` may talk to this host now, its genesis handshake aside."""
        return self.is_allowed(peer) and peer not in self._banned

    async def welcomes(self, peer: str) -> bool:
        """Whether `peer` is admitted, once its genesis handshake has told (False: another
        genesis, or none within the handshake's time)."""
        return self.admits(peer) and await self.gate.wait(peer)

    def get_connected(self) -> list[str]:
        """Allowed peers of our genesis with a connection that is not closed (see
        node/p2p/connections.py `get_live_connections`)."""
        return sorted(
            str(p)
            for p in self._host.get_connected_peers()
            if self.is_allowed(str(p)) and self.gate.is_admitted(str(p))
            and get_live_connections(self._host, p)
        )  # fmt: skip

    def get_admitted(self) -> list[ID]:
        """Connected peers past the genesis handshake and not banned: whose links the
        link checks and the probes watch."""
        return [
            p for p in self._host.get_connected_peers()
            if str(p) not in self._banned and self.gate.is_admitted(str(p))
        ]  # fmt: skip

    def set_allowed_peers(self, peers: frozenset[str] | None) -> None:
        """From now on only `peers` (None: everyone) talk to this host, as the validator set
        changes: the connections of a peer no longer allowed are closed (said once), and
        one allowed again is welcome at its next dial."""
        self.allowed_peers = peers
        for peer in peers or ():
            self._strangers.pop(peer, None)
        for peer in self._host.get_connected_peers():
            if self.is_allowed(str(peer)) or str(peer) in self._strangers:
                continue
            log.info("closing the connections of %s: no longer a validator or observer", peer)
            self._remember_stranger(str(peer))
            self._counters["connections", "closed_not_allowed"] += 1
            self._nursery.start_soon(close_peer, self._host, peer)
        self._watch.notify()

    def refuses(self, conn: INetConn) -> bool:
        """Whether a new connection (it dialled us, or we it) is with a banned peer or one
        outside `allowed_peers`: then it is closed at once.

        The identity is known only after the Noise handshake, so this is the earliest
        point; until the close lands, the peer's gossip is dropped (`admits`, and
        node/p2p/pubsub.py opens no gossip stream to a peer not allowed) and request
        streams from it are closed unanswered. A peer not allowed has done nothing
        wrong: it is counted, logged once, never scored.
        """
        peer = str(conn.muxed_conn.peer_id)
        if not self.is_allowed(peer):
            self._counters["connections", "refused_not_allowed"] += 1
            if peer not in self._strangers:
                log.info("refusing connections from %s: not a validator or observer", peer)
                self._remember_stranger(peer)
        elif peer in self._banned:
            log.info("refusing a connection from banned peer %s", peer)
            self._counters["connections", "refused"] += 1
            self._refused[peer] += 1
        else:
            return False
        self._nursery.start_soon(close_connection, conn)
        return True

    def penalize(self, peer: str, offence: Offence) -> None:
        """Scores `peer` down; at the floor it is disconnected and refused for `ban_s`.

        Never `Pubsub.add_to_blacklist`: in py-libp2p 0.8.1 that schedules
        `Pubsub._teardown_if_connected`, which deletes `peers[peer]` after awaiting a
        stream reset; a write to the peer failing meanwhile has already deleted it
        (`_handle_dead_peer`), the KeyError ends the pubsub service, and with it the
        node. Closing the connection instead runs the library's own consistent cleanup.
        """
        if peer == self._own:
            return
        banned = self._scores.process_offence(peer, offence)
        score = self._scores.get_score(peer)
        log.info("peer %s offence %s: -%d, score %d", peer, offence.name, offence.penalty, score)
        if not banned:
            return
        self._banned.add(peer)
        self._counters["peers", "banned"] += 1
        params = self._scores.params
        until = datetime.now(UTC) + timedelta(seconds=params.ban_s)
        log.warning(
            "banning peer %s for %.0fs until %s: offence %s took its score to %d (ban at %d)",
            peer, params.ban_s, until.isoformat(timespec="seconds"),
            offence.name, score, params.ban_at,
        )  # fmt: skip
        self._nursery.start_soon(self._serve_ban, peer)

    def _remember_stranger(self, peer: str) -> None:
        self._strangers[peer] = None
        while len(self._strangers) > STRANGERS_LOGGED:
            self._strangers.popitem(last=False)

    async def _serve_ban(self, peer: str) -> None:
        ends = trio.current_time() + self._scores.params.ban_s
        await disconnect_quietly(self._host, ID.from_base58(peer))
        await trio.sleep_until(ends)
        self._banned.discard(peer)
        self._scores.forget(peer)
        log.warning(
            "ban of peer %s ended; %d of its connections were refused meanwhile",
            peer, self._refused.pop(peer, 0),
        )  # fmt: skip
        self._watch.notify()
