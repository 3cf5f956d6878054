"""Hosted or self-hosted: where an assistant's web search, file search and code interpreter run.

A tool config of one of these types may say ``"hosting"``:

* ``"auto"`` (the default): run by the provider when it can (the model's provider speaks OpenAI's
  Responses API and declares the tool, and the admin enabled it in ``HOSTED_TOOLS__ENABLED``),
  else self-hosted (our search providers, knowledge bases, sandbox);
* ``"provider"``: hosted only; left out with a reason when it cannot be;
* ``"server"``: self-hosted only (it never runs on the provider, whatever the model).

Hosted file search searches the provider's vector stores named in ``vector_store_ids``; only stores the
admin shares (``HOSTED_TOOLS__VECTOR_STORE_IDS``) are ever sent. With ``auto``, a file_search config's
knowledge bases are still searched by the server's own tool, next to the hosted search of its stores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentcreator.llm.types import HostedTool

HOSTABLE_TYPES = frozenset({"web_search", "file_search", "code_interpreter"})
HOSTING_MODES = ("auto", "provider", "server")


@dataclass(frozen=True)
class HostedToolPolicy:
    """What the admin allows to run on the provider (settings ``hosted_tools``)."""

    enabled: frozenset[str] = frozenset()
    vector_store_ids: frozenset[str] = frozenset()
    max_calls_per_round: int = 8


@dataclass(frozen=True)
class HostingChoice:
    hosted: HostedTool | None  # sent with the model call
    self_hosted: bool  # build the server's own tool from the config too
    reason: str | None = None  # why it is not hosted, when that leaves the tool out


def choose_hosting(config: dict[str, Any], policy: HostedToolPolicy, model_can_host: frozenset[str]) -> HostingChoice:
    """Where the tool of ``config`` (a hostable type) runs. ``model_can_host``: the hosted tools the
    model declares *and* its provider's protocol can send."""
    kind = str(config.get("type"))
    mode = config.get("hosting") or "auto"
    if mode == "server":
        return HostingChoice(None, True)
    hosted, reason = _hosted(kind, config, policy, model_can_host)
    if hosted is None:
        return HostingChoice(None, False, reason) if mode == "provider" else HostingChoice(None, True)
    own_bases = kind == "file_search" and bool(config.get("knowledge_base_ids")) and mode == "auto"
    return HostingChoice(hosted, own_bases)


def _hosted(kind: str, config: dict[str, Any], policy: HostedToolPolicy,
            model_can_host: frozenset[str]) -> tuple[HostedTool | None, str]:
    if kind not in model_can_host:
        return None, "the assistant's model cannot run it on its provider"
    if kind not in policy.enabled:
        return None, "hosted tools are not enabled on this server (an admin sets HOSTED_TOOLS__ENABLED)"
    if kind != "file_search":
        return HostedTool(type=kind), ""  # type: ignore[arg-type]
    wanted = [str(i) for i in config.get("vector_store_ids") or []]
    shared = [i for i in wanted if i in policy.vector_store_ids]
    if not shared:
        return None, "no vector store shared by the admin is set" if wanted else "no vector store is set"
    return HostedTool(type="file_search", vector_store_ids=shared), ""
