"""Thin adapter around py-libp2p: the only place in the code base that imports libp2p."""

from node.p2p.errors import FrameError, MessageTooLarge, P2PError, RequestFailed, UnknownTopic
from node.p2p.gossip import Delivery, Topic
from node.p2p.host import HostConfig, P2PNode, open_p2p
from node.p2p.scoring import Offence, PeerScores, ScoreParams

__all__ = [
    "Delivery",
    "FrameError",
    "HostConfig",
    "MessageTooLarge",
    "Offence",
    "P2PError",
    "P2PNode",
    "PeerScores",
    "RequestFailed",
    "ScoreParams",
    "Topic",
    "UnknownTopic",
    "open_p2p",
]
