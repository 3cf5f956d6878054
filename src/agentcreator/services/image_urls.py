"""Images given by URL in a chat message (``{"type": "image", "url": ...}``) become the owner's files.

An ``https://`` URL is fetched once, through the SSRF guard (``core/outbound``: public addresses only,
every redirect hop checked, connect/read/total timeouts), streamed into a spool file under the owner's
size limit (the per-file limit or what is left of the quota: 413 past it, nothing kept). A ``data:image/``
URL is decoded the same way. Then the bytes go through the upload pipeline (``FileService``): the type
is sniffed from the content (it must be an image: 415 otherwise), Pillow decodes it with the
decompression-bomb limit, strips the metadata and makes the model copy and the thumbnail. The message
stores a file part in place of the URL, so nothing is fetched again and the model gets the clean copy.

Failures are the sender's to fix, each a 4xx with ``details.url``: a blocked destination 400
``blocked_destination``; an unreachable host, a timeout, too many redirects or a non-2xx answer 422
``image_url_failed``; too big 413 ``file_too_large`` / ``quota_exceeded``; not an image 415; a bomb or a
damaged image 422 (``image_too_large``, ``damaged_file``)."""

from __future__ import annotations

import asyncio
import binascii
import re
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import PurePosixPath
from typing import Any

import httpx

from agentcreator.core.errors import (
    AppError,
    BlockedDestination,
    OutboundError,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from agentcreator.core.outbound import OutboundGuard
from agentcreator.db.models import File
from agentcreator.files.names import safe_filename
from agentcreator.files.prepare import sniff_upload
from agentcreator.files.sniffing import FORMATS
from agentcreator.files.storage import UploadSpool, run_blocking
from agentcreator.services.files import FileService, attachment_part

EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp", "gif": "gif"}
_DATA_URL = re.compile(r"data:(image/[a-z0-9.+-]+)?(;[a-z0-9=.+-]+)*?;base64,", re.IGNORECASE)
_SHOWN_URL_CHARS = 200


class ImageUrlFailed(ValidationFailed):
    code = "image_url_failed"


def _shown(url: str) -> str:
    return url if len(url) <= _SHOWN_URL_CHARS else url[:_SHOWN_URL_CHARS] + "…"


def _add_url(exc: AppError, url: str) -> None:
    """Name the URL the error is about in its ``details`` (status, code and message stay)."""
    exc.details = {**(exc.details if isinstance(exc.details, dict) else {}), "url": _shown(url)}


def has_image_urls(parts: Sequence[dict[str, Any]]) -> bool:
    return any(p.get("type") == "image" and p.get("url") for p in parts)


class ImageUrlImporter:
    def __init__(self, files: FileService, guard: OutboundGuard) -> None:
        self.files = files
        self.guard = guard

    async def import_parts(self, owner_id: str, parts: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[File]]:
        """``parts`` with every image URL replaced by a file part (kept ``detail``), and the new files.
        On a failure the files made so far are deleted and the error is raised."""
        out: list[dict[str, Any]] = []
        made: list[File] = []
        try:
            for part in parts:
                if part.get("type") == "image" and part.get("url"):
                    file = await self.import_url(owner_id, str(part["url"]))
                    made.append(file)
                    detail = part.get("detail", "auto")
                    out.append(attachment_part(file) | ({"detail": detail} if detail != "auto" else {}))
                else:
                    out.append(part)
        except BaseException:
            await self.discard(owner_id, made)
            raise
        return out, made

    async def discard(self, owner_id: str, files: Sequence[File]) -> None:
        """Delete files this importer made for a message that was not saved after all."""
        for file in files:
            try:
                await self.files.delete(owner_id, file.id)
            except AppError:
                pass  # already gone (a 404): nothing to undo

    async def import_url(self, owner_id: str, url: str) -> File:
        limit, too_large = await self.files.size_limit(owner_id)
        spool = self.files.storage.spool()
        try:
            try:
                if url.startswith("https://"):
                    name = await self._fetch(url, spool, limit, too_large)
                elif url[:5].lower() == "data:":
                    name = await self._decode(url, spool, limit, too_large)
                else:
                    raise ValidationFailed("An image URL must be https:// or data:image/….", code="invalid_image_url")
                await spool.close()
                file_type = await run_blocking(sniff_upload, spool.path, "", self.files.settings)
                if file_type.kind != "image":
                    raise UnsupportedMediaType(
                        f"The URL gave {FORMATS[file_type.format][2]}, not an image (PNG, JPEG, WebP or GIF).",
                        code="file_type_not_allowed")
                stem = PurePosixPath(name).stem or "image"
                return await self.files.store_received(owner_id, spool, f"{stem}.{EXTENSIONS[file_type.format]}",
                                                       "vision")
            except AppError as exc:
                _add_url(exc, url)
                raise
        finally:
            spool.discard()

    async def _fetch(self, url: str, spool: UploadSpool, limit: int, too_large: Callable[[], AppError]) -> str:
        """Stream the image into ``spool``; the name it should get (the URL's last path part)."""
        target = self.guard.check_url(url)
        deadline = self.guard.settings.total_timeout_seconds
        try:
            async with asyncio.timeout(deadline), self.guard.client(
                    follow_redirects=True, headers={"Accept": "image/png, image/jpeg, image/webp, image/gif"}) as client:
                async with client.stream("GET", target) as response:
                    if not response.is_success:
                        raise ImageUrlFailed(f"The image URL answered {response.status_code} "
                                             f"{response.reason_phrase}".rstrip() + ".")
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > limit:
                        raise too_large()
                    async for chunk in response.aiter_bytes():  # decoded: the cap holds after gzip
                        if spool.size + len(chunk) > limit:
                            raise too_large()
                        await spool.write(chunk)
                    return safe_filename(response.url.path.rsplit("/", 1)[-1] or "image")
        except TimeoutError as exc:
            raise ImageUrlFailed(f"The image URL did not answer within {deadline:g} s.") from exc
        except (BlockedDestination, PayloadTooLarge, ImageUrlFailed):
            raise
        except OutboundError as exc:
            raise ImageUrlFailed(f"The image could not be fetched: {exc.message}") from exc
        except httpx.TooManyRedirects as exc:
            raise ImageUrlFailed("The image URL redirected too many times.") from exc
        except httpx.UnsupportedProtocol as exc:
            raise BlockedDestination("The image URL redirected to a URL that is not http or https.") from exc
        except httpx.HTTPError as exc:
            raise ImageUrlFailed(f"The image could not be fetched ({type(exc).__name__}).") from exc

    async def _decode(self, url: str, spool: UploadSpool, limit: int, too_large: Callable[[], AppError]) -> str:
        match = _DATA_URL.match(url)
        if match is None:
            raise ValidationFailed("A data URL must be data:image/…;base64,….", code="invalid_image_url")
        encoded = url[match.end():]
        if len(encoded) // 4 * 3 > limit + 3:
            raise too_large()
        try:
            data = await run_blocking(partial(binascii.a2b_base64, encoded.encode("ascii"), strict_mode=True))
        except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
            raise ValidationFailed("The data URL is not valid base64.", code="invalid_image_url") from exc
        if len(data) > limit:
            raise too_large()
        await spool.write(data)
        return "image"
