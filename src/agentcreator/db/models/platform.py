from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from agentcreator.db.base import MYSQL_TABLE_ARGS, Base, TimestampMixin
from agentcreator.db.types import SafeJSON


class PlatformSetting(TimestampMixin, Base):
    """Admin-editable platform settings (e.g. ``registration_open``), one row per key."""

    __tablename__ = "platform_settings"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(SafeJSON(), nullable=True)
