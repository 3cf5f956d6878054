"""The resume cursor of a turn's event stream (``Last-Event-ID`` / ``after`` / ``last_event_id``):
``<turn_id>:<position>``, where the position is the in-process index or a Redis stream id. Anything
else is refused with 400 before it reaches the bus (a malformed id used to kill the stream)."""

from __future__ import annotations

import re

from agentcreator.core.errors import BadRequest

_EVENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}:[0-9]{1,20}(?:-[0-9]{1,20})?")


def checked_event_id(value: object) -> str | None:
    """``value`` as a resume cursor (None: from the start), or BadRequest."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or _EVENT_ID.fullmatch(value) is None:
        raise BadRequest("Malformed event id: expected <turn id>:<position> as sent in the stream",
                         code="bad_event_id")
    return value
