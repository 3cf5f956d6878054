"""Uploaded files: storage behind a small interface, content sniffing, image handling, text
extraction, and the conversion of attachment parts for models. Knows nothing of HTTP or the
database; services/files.py ties it to both."""

from agentcreator.files.names import content_disposition, safe_filename
from agentcreator.files.sniffing import FileType, sniff
from agentcreator.files.storage import FileStorage, LocalFileStorage, UploadSpool

__all__ = ["FileStorage", "FileType", "LocalFileStorage", "UploadSpool", "content_disposition", "safe_filename",
           "sniff"]
