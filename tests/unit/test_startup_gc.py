"""Start-up runs with the cyclic collector off (`cli_serve.serve`), and every way out of it turns it back on:
serving (`surface.run._start_up_done`, after freezing start-up's objects) or `serve` returning early."""

from __future__ import annotations

import gc
import pytest

from meta_mcp import cli_serve
from meta_mcp.cli import main
from meta_mcp.surface.run import _start_up_done


def test_ready_to_serve_freezes_start_up_and_collects_again() -> None:
    gc.disable()
    try:
        before = gc.get_freeze_count()
        _start_up_done()
        assert gc.isenabled()
        assert gc.get_freeze_count() >= before
    finally:
        gc.unfreeze()
        gc.enable()


def test_serve_that_stops_before_serving_leaves_the_collector_on(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []

    def stops_early(args: object, prespawned: object, environ: object) -> int:
        seen.append(gc.isenabled())
        return 2

    monkeypatch.setattr(cli_serve, "_serve_with", stops_early)
    assert gc.isenabled()
    assert main(["serve", "--no-scrub-env"]) == 2
    assert seen == [False]  # start-up ran with the collector off
    assert gc.isenabled()  # and it is back on
