"""The service commands' flags: what --help says they scale by, bad URLs as bad flags, --until-idle."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable

import pytest
from click.testing import CliRunner

from networkpulse.cli import main


def test_help_says_what_each_service_scales_by() -> None:
    runner = CliRunner()
    firehose = runner.invoke(main, ["firehose", "--help"])
    venturi = runner.invoke(main, ["venturi", "--help"])
    assert firehose.exit_code == venturi.exit_code == 0
    assert "Scales by --producers" in firehose.output
    assert "Scales by consumer-group members" in venturi.output and "partition count" in venturi.output


@pytest.mark.parametrize(
    "args",
    [
        ["firehose", "--to", "memory://raw"],
        ["firehose", "--to", "kafka://127.0.0.1:19092/"],
        ["firehose", "--to", "kafka://127.0.0.1:19092/raw", "--speed", "60x", "--rate", "10/s"],
        ["venturi", "--from", "kafka://h:1/raw", "--to", "http://h:1/out"],
    ],
)
def test_unusable_flags_are_bad_flags(args: list[str]) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output


def test_firehose_refuses_stdin() -> None:
    result = CliRunner().invoke(main, ["firehose", "-", "--to", "kafka://127.0.0.1:19092/raw"])
    assert result.exit_code == 2 and "save stdin to a file first" in result.output


@pytest.mark.kafka
@pytest.mark.skipif(not os.environ.get("PULSE_TEST_KAFKA"), reason="PULSE_TEST_KAFKA is unset")
def test_venturi_until_idle_exits_0_with_its_summary(new_topic: Callable[[str], str]) -> None:
    from networkpulse import bus

    raw, out = new_topic("svc.idle"), new_topic("svc.idle.out")
    bus.create_topics(raw, 1)
    result = CliRunner().invoke(main, ["venturi", "--from", raw, "--to", out, "--worker", "0", "--until-idle", "1",
                                       "--group", f"idle-{uuid.uuid4().hex[:8]}"])
    assert result.exit_code == 0, result.output
    assert "consuming" in result.output and "0 messages consumed" in result.output
    bus.open_sink(out).close()  # the output topic was created (opening a missing one raises)
