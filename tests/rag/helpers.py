"""Knowledge test helpers: run queued ingestion jobs to completion, seed bases through the API."""

from __future__ import annotations

from typing import Any

from agentcreator.rag.knowledge import Knowledge
from tests.conftest import UserSession


async def run_jobs(knowledge: Knowledge, limit: int = 50) -> int:
    """Run the queued jobs with the process's worker (tests start no background worker)."""
    ran = 0
    while ran < limit and await knowledge.worker.run_once():
        ran += 1
    return ran


async def make_base(user: UserSession, name: str = "Docs") -> dict[str, Any]:
    response = await user.client.post("/api/knowledge-bases", json={"name": name}, headers=user.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def add_document(user: UserSession, base_id: str, name: str, pages: list[str]) -> dict[str, Any]:
    response = await user.client.post(f"/api/knowledge-bases/{base_id}/documents",
                                      json={"name": name, "pages": pages}, headers=user.headers)
    assert response.status_code == 202, response.text
    return response.json()


CORPUS = {
    "volcanoes.md": [
        "Volcanoes form where magma from the Earth's mantle reaches the surface. Shield volcanoes, such as "
        "Mauna Loa in Hawaii, have gentle slopes built by fluid basalt lava flows.",
        "Stratovolcanoes like Mount Fuji are steep cones of alternating ash and lava layers. Their eruptions "
        "are explosive because their viscous magma traps gas.",
    ],
    "bread.md": [
        "To bake sourdough bread, feed the starter the night before. Mix flour, water and salt, let the dough "
        "rest, then fold it every thirty minutes for two hours.",
        "Bake the loaf in a preheated Dutch oven at 250 degrees Celsius for twenty minutes with the lid on, "
        "then twenty more without it until the crust is deep brown.",
    ],
    "tides.md": [
        "Ocean tides are caused mainly by the Moon's gravity pulling on the oceans. Spring tides happen at new "
        "and full moon when the Sun and Moon align.",
    ],
}
