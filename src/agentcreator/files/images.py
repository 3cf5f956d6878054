"""Images through Pillow: size checked before decoding (decompression bombs), fully decoded (a truncated
or damaged file is refused), orientation applied, metadata (EXIF, XMP, comments) dropped. Three
copies: the stored image (same format, clean), the copy for models (first frame, long side scaled
down) and a thumbnail. Synchronous: run it in a worker thread."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from agentcreator.core.errors import ValidationFailed

# Pillow warns above Image.MAX_IMAGE_PIXELS and refuses above twice that; here the warning refuses too
# (our own, lower limit is checked right after the header is read).
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)

_PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP", "gif": "GIF"}
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})


@dataclass(frozen=True)
class ImageVariant:
    data: bytes
    mime: str
    width: int
    height: int


@dataclass(frozen=True)
class ProcessedImage:
    stored: ImageVariant  # what downloads serve: the upload without metadata, orientation applied
    for_model: ImageVariant
    thumbnail: ImageVariant
    frames: int


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _flat(image: Image.Image) -> Image.Image:
    """RGB or RGBA (palette and CMYK images converted) for the model copy and the thumbnail."""
    has_alpha = image.mode in _ALPHA_MODES or (image.mode == "P" and "transparency" in image.info)
    return image.convert("RGBA" if has_alpha else "RGB")


def _variant(image: Image.Image, long_side: int, *, thumbnail: bool) -> ImageVariant:
    copy = _flat(image)
    copy.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    if thumbnail:
        return ImageVariant(_encode(copy, "WEBP", quality=80), "image/webp", *copy.size)
    if copy.mode == "RGBA":
        return ImageVariant(_encode(copy, "PNG"), "image/png", *copy.size)
    return ImageVariant(_encode(copy, "JPEG", quality=90), "image/jpeg", *copy.size)


def _stored(image: Image.Image, source: Image.Image, fmt: str, frames: int) -> ImageVariant:
    icc = source.info.get("icc_profile")
    extra: dict[str, object] = {"icc_profile": icc} if icc and fmt in {"jpeg", "png", "webp"} else {}
    if fmt == "gif":
        data = _encode(source, "GIF", save_all=frames > 1, comment=b"") if frames > 1 else \
            _encode(image, "GIF", comment=b"")
    elif fmt == "jpeg":
        clean = image if image.mode in {"RGB", "L", "CMYK"} else image.convert("RGB")
        data = _encode(clean, "JPEG", quality=95, **extra)
    elif fmt == "webp":
        data = _encode(_flat(image), "WEBP", quality=95, **extra)
    else:
        data = _encode(image, "PNG", **extra)
    return ImageVariant(data, f"image/{fmt}", *image.size)


def process_image(path: Path, fmt: str, *, max_pixels: int, model_long_side: int,
                  thumbnail_long_side: int) -> ProcessedImage:
    """``fmt`` is the sniffed format; the decoder must agree with it."""
    try:
        source = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValidationFailed(f"The image has more pixels than the {max_pixels:,} accepted.",
                               code="image_too_large") from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise _damaged() from exc
    with source:
        if source.format != _PIL_FORMATS[fmt]:
            raise _damaged()
        width, height = source.size
        frames = int(getattr(source, "n_frames", 1) or 1)
        if width * height > max_pixels or width * height * frames > max_pixels * 4:
            raise ValidationFailed(
                f"The image is {width}x{height} pixels{f' in {frames} frames' if frames > 1 else ''}; at most "
                f"{max_pixels:,} pixels are accepted.", code="image_too_large")
        try:
            source.seek(0)
            source.load()
            image = ImageOps.exif_transpose(source)  # a new image: orientation applied, EXIF not carried
            image.info = {}
            stored = _stored(image, source, fmt, frames)
            for_model = _variant(image, model_long_side, thumbnail=False)
            thumb = _variant(image, thumbnail_long_side, thumbnail=True)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            raise _damaged() from exc
    return ProcessedImage(stored, for_model, thumb, frames)


def _damaged() -> ValidationFailed:
    return ValidationFailed("The image could not be read: it is damaged, truncated or not what its header says.",
                            code="damaged_file")
