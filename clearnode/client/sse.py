"""Server-Sent Events as the node writes them (`id:`, `event:`, `data:` lines, a blank
line ending each; `:` lines are heartbeats)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ServerEvent:
    """One event: its `id` (a member stream's cursor; resume after it), kind and data."""

    id: str | None
    kind: str
    data: Any


async def read_events(lines: AsyncIterator[str]) -> AsyncIterator[ServerEvent]:
    """The events of a stream's lines, until it ends."""
    event_id: str | None = None
    kind, data = "message", list[str]()
    async for line in lines:
        if line == "":
            if data:
                yield ServerEvent(event_id, kind, json.loads("\n".join(data)))
            kind, data = "message", []
        elif line.startswith("id:"):
            event_id = line[3:].strip()
        elif line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
