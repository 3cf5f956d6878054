"""A ``multipart/form-data`` upload read from the request body as it arrives (python-multipart's
streaming parser) and written to a spool file in chunks. The size limits are checked on every chunk:
past them the spool file is removed and the rest of the body is never read, so an oversized upload
leaves nothing on disk and nothing in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from agentcreator.core.errors import AppError, BadRequest
from agentcreator.files.storage import FileStorage, UploadSpool

FILE_FIELD = "file"
MAX_FIELD_BYTES = 1024
MAX_FIELDS = 8


@dataclass
class ReceivedUpload:
    spool: UploadSpool
    filename: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    value: bytearray = field(default_factory=bytearray)


def boundary_of(content_type: str | None) -> bytes:
    kind, options = parse_options_header(content_type or "")
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise BadRequest("Send the file as multipart/form-data with a 'file' field.", code="multipart_expected")
    return boundary


async def receive_upload(body: AsyncIterator[bytes], content_type: str | None, storage: FileStorage, *,
                         limit: int, too_large: Callable[[], AppError]) -> ReceivedUpload:
    """Read the body into a spool file. ``too_large()`` is raised once the file passes ``limit`` bytes."""
    boundary = boundary_of(content_type)
    spool: UploadSpool | None = None
    current = _Part()
    parts_seen = 0
    fields: dict[str, str] = {}
    filename: str | None = None
    pending: list[bytes] = []
    header_field = bytearray()
    header_value = bytearray()
    problem: AppError | None = None
    ended = False

    def on_part_begin() -> None:
        nonlocal current, parts_seen
        current = _Part()
        parts_seen += 1

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        current.headers[bytes(header_field).lower()] = bytes(header_value)
        header_field.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        nonlocal spool, filename, problem
        _, options = parse_options_header(current.headers.get(b"content-disposition", b""))
        current.name = options.get(b"name", b"").decode("utf-8", "replace")
        raw_filename = options.get(b"filename")
        if raw_filename is not None and current.name == FILE_FIELD:
            if spool is not None:
                problem = BadRequest("Send one file per request.", code="one_file_per_request")
                return
            current.filename = raw_filename.decode("utf-8", "replace")
            filename = current.filename
            spool = storage.spool()
        elif raw_filename is not None or parts_seen > MAX_FIELDS:
            problem = BadRequest(f"Unexpected part '{current.name}': send the file as '{FILE_FIELD}'.",
                                 code="unexpected_part")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        nonlocal problem
        if current.filename is not None:
            pending.append(data[start:end])
        elif len(current.value) + end - start > MAX_FIELD_BYTES:
            problem = BadRequest(f"The field '{current.name}' is too long.", code="field_too_long")
        else:
            current.value.extend(data[start:end])

    def on_part_end() -> None:
        if current.filename is None and current.name:
            fields[current.name] = current.value.decode("utf-8", "replace")

    def on_end() -> None:
        nonlocal ended
        ended = True

    parser = MultipartParser(boundary, {  # type: ignore[arg-type]
        "on_part_begin": on_part_begin, "on_part_data": on_part_data, "on_part_end": on_part_end,
        "on_header_field": on_header_field, "on_header_value": on_header_value, "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished, "on_end": on_end})
    try:
        async for chunk in body:
            try:
                parser.write(chunk)
            except MultipartParseError as exc:
                raise BadRequest("The multipart body is malformed.", code="malformed_multipart") from exc
            if problem is not None:
                raise problem
            if spool is not None:
                for piece in pending:
                    if spool.size + len(piece) > limit:
                        raise too_large()
                    await spool.write(piece)
            pending.clear()
            if ended:
                break
        if not ended:
            raise BadRequest("The upload ended early.", code="incomplete_upload")
        if spool is None or filename is None:
            raise BadRequest(f"No file in the request: send it as the '{FILE_FIELD}' field.", code="file_missing")
        await spool.close()
        return ReceivedUpload(spool, filename, fields)
    except Exception:
        pending.clear()
        if spool is not None:
            await spool.abort()  # the 413 goes out with nothing left on disk
        raise
    except BaseException:  # cancelled: remove without waiting
        if spool is not None:
            spool.discard()
        raise
