"""When a streaming answer is checkpointed (chat/checkpoints.py): not within the first interval, not
before enough deltas, never two saves at once, and a save in flight is waited for at the end."""

from __future__ import annotations

import asyncio

from agentcreator.chat.checkpoints import Checkpointer


class _Saves:
    def __init__(self, delay: float = 0.0) -> None:
        self.texts: list[str] = []
        self.delay = delay
        self.running = 0
        self.most_at_once = 0

    async def __call__(self, text: str) -> None:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        await asyncio.sleep(self.delay)
        self.texts.append(text)
        self.running -= 1


async def test_an_answer_done_within_the_first_interval_is_never_checkpointed() -> None:
    saves = _Saves()
    checkpoints = Checkpointer(saves, seconds=5.0, tokens=1)
    text: list[str] = []
    for word in ["a", "b", "c"] * 20:
        text.append(word)
        checkpoints.delta(text)
    await checkpoints.aclose()
    assert saves.texts == [] and checkpoints.saved == 0


async def test_a_checkpoint_needs_both_the_interval_and_the_deltas() -> None:
    saves = _Saves()
    checkpoints = Checkpointer(saves, seconds=0.05, tokens=5)
    text: list[str] = []
    await asyncio.sleep(0.06)  # the interval has passed...
    for word in ["1", "2", "3", "4"]:  # ...but only four deltas came
        text.append(word)
        checkpoints.delta(text)
    await asyncio.sleep(0)
    assert saves.texts == []
    text.append("5")
    checkpoints.delta(text)
    await checkpoints.aclose()
    assert saves.texts == ["12345"]
    text.append("6")
    checkpoints.delta(text)  # the count starts again and the next interval runs
    await checkpoints.aclose()
    assert saves.texts == ["12345"]


async def test_one_save_at_a_time_and_the_last_one_is_awaited() -> None:
    saves = _Saves(delay=0.1)
    checkpoints = Checkpointer(saves, seconds=0.01, tokens=1)
    text: list[str] = []
    for index in range(30):
        text.append(str(index % 10))
        checkpoints.delta(text)
        await asyncio.sleep(0.012)
    await checkpoints.aclose()
    assert saves.running == 0 and saves.most_at_once == 1
    assert 1 <= len(saves.texts) < 30
    assert all("".join(text).startswith(saved) for saved in saves.texts)
    assert saves.texts == sorted(saves.texts, key=len)  # each save holds more than the one before


async def test_a_failed_save_does_not_end_the_stream() -> None:
    async def broken(text: str) -> None:
        raise ConnectionError("the database went away")

    checkpoints = Checkpointer(broken, seconds=0.0 + 1e-9, tokens=1)
    await asyncio.sleep(0.001)
    checkpoints.delta(["x"])
    await checkpoints.aclose()
    assert checkpoints.saved == 0


async def test_the_interval_may_grow_with_the_load() -> None:
    saves = _Saves()
    load = {"interval": 0.01}
    checkpoints = Checkpointer(saves, seconds=lambda: load["interval"], tokens=1)
    await asyncio.sleep(0.02)
    checkpoints.delta(["a"])
    await checkpoints.aclose()
    assert saves.texts == ["a"]
    load["interval"] = 60.0  # many turns now: the next one is a minute away
    await asyncio.sleep(0.02)
    checkpoints.delta(["a", "b"])
    await asyncio.sleep(0.02)
    checkpoints.delta(["a", "b", "c"])
    await checkpoints.aclose()
    assert saves.texts == ["a"]


async def test_a_due_checkpoint_waits_while_a_turn_starts_but_not_past_a_second_interval() -> None:
    saves = _Saves()
    starting = {"now": True}
    checkpoints = Checkpointer(saves, seconds=0.05, tokens=1, defer=lambda: starting["now"])
    await asyncio.sleep(0.06)  # due...
    checkpoints.delta(["a"])  # ...but a turn is starting: it waits
    await asyncio.sleep(0)
    assert saves.texts == []
    starting["now"] = False  # the start is written: the next delta saves
    checkpoints.delta(["a", "b"])
    await checkpoints.aclose()
    assert saves.texts == ["ab"]
    starting["now"] = True  # starts keep coming: after a second interval it saves all the same
    await asyncio.sleep(0.11)
    checkpoints.delta(["a", "b", "c"])
    await checkpoints.aclose()
    assert saves.texts == ["ab", "abc"]


def test_the_registry_knows_when_a_turn_is_starting() -> None:
    from agentcreator.chat.turns import RunningTurn, TurnRegistry

    turns = TurnRegistry()
    assert not turns.starting()
    turn = RunningTurn(turn_id="t", conversation_id="c", assistant_message_id="")
    turns.add(turn)
    assert turns.starting()  # read and written, no runner task yet
    turn.task = object()  # type: ignore[assignment]  # stands in for the runner's task (only its presence matters)
    assert not turns.starting()
