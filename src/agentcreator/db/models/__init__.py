"""ORM models. Import from here so Alembic sees every table."""

from agentcreator.db.models.admin import AccountLink, AdminAuditEvent
from agentcreator.db.models.assistant import Assistant
from agentcreator.db.models.billing import (
    BudgetLedger,
    BudgetReservation,
    ModelPrice,
    PriceVersion,
    ToolPrice,
    UserBudget,
)
from agentcreator.db.models.conversation import Conversation, Message
from agentcreator.db.models.file import File
from agentcreator.db.models.knowledge import (
    KnowledgeBase,
    KnowledgeChunk,
    KnowledgeDocument,
    KnowledgeJob,
    KnowledgePage,
)
from agentcreator.db.models.mcp import McpServer
from agentcreator.db.models.platform import PlatformSetting
from agentcreator.db.models.provider import Provider
from agentcreator.db.models.run import ChatWorker, Run, RunStep
from agentcreator.db.models.usage import UsageRecord
from agentcreator.db.models.user import AccountNotice, AuthSession, User

__all__ = ["AccountLink", "AccountNotice", "AdminAuditEvent", "Assistant", "AuthSession", "BudgetLedger", "BudgetReservation", "ChatWorker",
           "Conversation", "File", "KnowledgeBase", "KnowledgeChunk", "KnowledgeDocument", "KnowledgeJob", "KnowledgePage",
           "McpServer", "Message", "ModelPrice", "PlatformSetting", "PriceVersion", "Provider", "Run", "RunStep",
           "ToolPrice", "UsageRecord", "User", "UserBudget"]
