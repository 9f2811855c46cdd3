"""Container state words of both APIs -> the Go exporter's numbering."""

from __future__ import annotations

import pytest

from podman_exporter.snapshot.model import ContainerState

# libpod/define/containerstate.go String() of Podman 4.x to 6.x, constant -> word.
REST_WORDS = {
    "unknown": -1, "created": 0, "initialized": 1, "running": 2, "stopped": 3,
    "paused": 4, "exited": 5, "removing": 6, "stopping": 7, "bad state": -1, "Running": 2,
}
# The 2018 service (libpod/container.go of v0.5.2): Configured "configured",
# Created "created", Stopped "exited".
VARLINK_WORDS = {"unknown": -1, "configured": 0, "created": 1, "running": 2, "paused": 4,
                 "exited": 5, "bad state": -1}


@pytest.mark.parametrize(("word", "value"), REST_WORDS.items())
def test_rest_words(word: str, value: int) -> None:
    assert ContainerState.parse(word) == value


@pytest.mark.parametrize(("word", "value"), VARLINK_WORDS.items())
def test_varlink_words(word: str, value: int) -> None:
    assert ContainerState.parse_varlink(word) == value


@pytest.mark.parametrize("state", list(ContainerState))
def test_bridge_words_read_back(state: ContainerState) -> None:
    # States the 2018 service had no word for are written as its nearest word.
    nearest = {ContainerState.STOPPED: ContainerState.EXITED,
               ContainerState.REMOVING: ContainerState.EXITED,
               ContainerState.STOPPING: ContainerState.RUNNING}
    assert ContainerState.parse_varlink(state.varlink_word()) == nearest.get(state, state)
    assert state.varlink_word() in VARLINK_WORDS
