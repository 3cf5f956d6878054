from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator

from agentcreator.api.schemas.common import StrictInput

PRIVATE_NETWORK = ("Let the base URL's host be on a loopback or private address (a server you run, such as "
                   "Ollama on localhost); otherwise only public addresses are reached")
ALLOWED_USERS = "Only administrators and these users see and use the provider's models; null: every user"
UserId = Annotated[str, Field(min_length=1, max_length=32)]


class ModelSpecIn(StrictInput):
    name: str = Field(min_length=1, max_length=200)
    context_length: int | None = Field(None, ge=256, le=10_000_000)
    max_output_tokens: int | None = Field(None, ge=16, le=1_000_000)
    vision: bool | None = None
    tools: bool | None = None


def _check_url(value: str | None) -> str | None:
    if value is not None and not (value.startswith("http://") or value.startswith("https://")):
        raise ValueError("base_url must start with http:// or https://")
    return value.rstrip("/") if value else value


class ProviderCreate(StrictInput):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$",
                      description="Short id used in model references: '<name>/<model>'")
    kind: Literal["openai", "openai_compatible"]
    base_url: str | None = Field(None, max_length=500)
    api_key: str | None = Field(None, max_length=2000, description="Stored encrypted; never returned")
    models: list[ModelSpecIn] = Field(default_factory=list, max_length=200)
    enabled: bool = True
    allow_private_network: bool = Field(False, description=PRIVATE_NETWORK)
    allowed_user_ids: list[UserId] | None = Field(None, max_length=1000, description=ALLOWED_USERS)

    _url = field_validator("base_url")(classmethod(lambda cls, v: _check_url(v)))


class ProviderUpdate(StrictInput):
    base_url: str | None = Field(None, max_length=500)
    api_key: str | None = Field(None, max_length=2000, description="Empty string removes the key")
    models: list[ModelSpecIn] | None = Field(None, max_length=200)
    enabled: bool | None = None
    allow_private_network: bool | None = Field(None, description=PRIVATE_NETWORK)
    allowed_user_ids: list[UserId] | None = Field(None, max_length=1000, description=ALLOWED_USERS + "; "
                                                  "null: every user again")

    _url = field_validator("base_url")(classmethod(lambda cls, v: _check_url(v)))


class ProviderPublic(BaseModel):
    id: str | None = Field(description="None for providers configured in the environment")
    name: str
    kind: str
    base_url: str | None
    has_api_key: bool
    models: list[ModelSpecIn]
    enabled: bool
    allow_private_network: bool = False
    allowed_user_ids: list[str] | None = Field(None, description=ALLOWED_USERS)
    source: Literal["environment", "admin"]
    created_at: datetime | None = None
    updated_at: datetime | None = None


class ConnectionTest(BaseModel):
    ok: bool
    models: int = 0
    error: dict[str, str] | None = None


class ModelPublic(BaseModel):
    id: str = Field(description="'provider/model', the value an assistant's model field takes")
    provider: str
    name: str
    context_length: int
    max_output_tokens: int
    vision: bool
    tools: bool
    hosted_tools: list[str]
    local: bool


class ModelsPublic(BaseModel):
    data: list[ModelPublic]
    count: int
    default_model: str
    unavailable: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="Providers that could not be reached, with the reason")
