"""An incremental ``text/event-stream`` decoder for upstream model streams (WHATWG SSE rules).

Bytes go in as the network delivers them; complete events come out. One call handles everything a
read brought, so a provider can coalesce several tokens that arrived together into one delta instead
of paying per token. Lines end with CRLF, LF or CR (a CR at the end of a read may be half of a CRLF:
it waits for the next read); ``:`` lines are comments; a field's value loses one leading space;
``data`` lines of one event are joined with ``\\n``; a blank line ends the event. ``id`` and ``retry``
are of no use to a one-shot model stream and are ignored. An event the stream ends without a blank line after is dropped, as browsers do.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SSEEvent:
    event: str | None
    data: bytes  # UTF-8, as sent (``json.loads`` takes bytes)


class SSEDecoder:
    __slots__ = ("_data", "_event", "_pending")

    def __init__(self) -> None:
        self._pending = b""  # an incomplete line from the previous read
        self._data: list[bytes] = []
        self._event: str | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        buffer = self._pending + chunk if self._pending else chunk
        held = b""
        if b"\r" in buffer:
            if buffer.endswith(b"\r"):
                buffer, held = buffer[:-1], b"\r"
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buffer.split(b"\n")
        self._pending = lines.pop() + held
        events: list[SSEEvent] = []
        for line in lines:
            if not line:
                if self._data:
                    events.append(SSEEvent(self._event, b"\n".join(self._data)))
                self._data = []
                self._event = None
            elif line[0] != 58:  # b":" starts a comment
                name, _, value = line.partition(b":")
                if value[:1] == b" ":
                    value = value[1:]
                if name == b"data":
                    self._data.append(value)
                elif name == b"event":
                    self._event = value.decode("utf-8", "replace")
        return events
