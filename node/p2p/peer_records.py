"""The signed peer record py-libp2p 0.8.1 attaches to every gossip RPC, verified once.

The library puts the sender's signed peer record (its addresses, signed by its key) in
every RPC it writes, and the receiver verifies and stores it for each one: the
signature checked, the addresses parsed, the peer store's record and addresses
replaced (about 100 us; a control RPC is verified twice, by Pubsub and by GossipSub),
though a peer sends the same bytes until its addresses change. Here a record is
verified once: while the peer store still holds the record that bytes equal to these
gave it, less than `RECHECK_S` ago, the RPC is taken as the library would take it, the
record being the one it would store again (the library refuses only an older or
ill-signed record). Only the stored addresses' 2-hour expiry is renewed less often.
"""

from __future__ import annotations

import time
from typing import Any
from weakref import WeakKeyDictionary

from libp2p.peer.id import ID
from libp2p.pubsub import gossipsub as libp2p_gossipsub
from libp2p.pubsub import pubsub as libp2p_pubsub
from libp2p.pubsub.pb.rpc_pb2 import RPC
from libp2p.pubsub.utils import maybe_consume_signed_record

library_consume = maybe_consume_signed_record
"""The library's own verification, which `consume_record_once` calls."""

RECHECK_S = 60.0
"""Longest a verified record is taken again unverified (the library keeps one 2 hours)."""

_verified: WeakKeyDictionary[Any, dict[ID, tuple[bytes, object, float]]] = WeakKeyDictionary()
"""Per peer store, per peer: the record's bytes, the record state they stored, when."""


def consume_record_once(msg: RPC, host: Any, peer_id: ID) -> bool:
    """The library's `maybe_consume_signed_record`, verifying a record only once (see
    the module's docstring)."""
    if not msg.HasField("senderRecord"):
        return bool(library_consume(msg, host, peer_id))
    store = host.get_peerstore()
    seen = _verified.setdefault(store, {})
    kept = seen.get(peer_id)
    now = time.monotonic()
    if (
        kept is not None
        and kept[0] == msg.senderRecord
        and store.peer_record_map.get(peer_id) is kept[1]
        and now - kept[2] < RECHECK_S
    ):
        return True
    if not library_consume(msg, host, peer_id):
        return False
    stored = store.peer_record_map.get(peer_id)
    if stored is not None:  # (a record without addresses is not kept)
        seen[peer_id] = (msg.senderRecord, stored, now)
    return True


def verify_each_record_once() -> None:
    """Puts `consume_record_once` where the library's gossip reads RPCs."""
    for module in (libp2p_pubsub, libp2p_gossipsub):
        current = getattr(module, "maybe_consume_signed_record", None)
        if current not in (maybe_consume_signed_record, consume_record_once):
            raise RuntimeError("py-libp2p's gossip reads peer records otherwise: revisit")
        module.maybe_consume_signed_record = consume_record_once  # type: ignore[attr-defined]
