"""Replay the committed fuzz corpus: every input once found is a regression test."""

from __future__ import annotations

import os

import pytest

from .targets import TARGETS

CORPUS = os.path.join(os.path.dirname(__file__), "corpus")


def _inputs() -> list[tuple[str, str]]:
    found = []
    for target in sorted(TARGETS):
        directory = os.path.join(CORPUS, target)
        for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
            found.append((target, os.path.join(directory, name)))
    return found


def test_every_target_has_a_corpus() -> None:
    for target in TARGETS:
        assert os.listdir(os.path.join(CORPUS, target)), f"no corpus for {target}"


@pytest.mark.parametrize("target, path", _inputs(), ids=lambda v: os.path.basename(str(v)))
def test_corpus_input(target: str, path: str) -> None:
    with open(path, "rb") as f:
        TARGETS[target](f.read())
