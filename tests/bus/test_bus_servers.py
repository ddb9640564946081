"""scripts/kafka.sh and scripts/postgres.sh: valid bash, idempotent start, and servers fit for the scale-out mode."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from networkpulse.bus import BusUrl

ROOT = Path(__file__).resolve().parents[2]

SCRIPTS = ["scripts/kafka.sh", "scripts/postgres.sh", "scripts/test.sh"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_is_valid_bash(script: str) -> None:
    subprocess.run(["bash", "-n", str(ROOT / script)], check=True)


@pytest.mark.parametrize("script", ["scripts/kafka.sh", "scripts/postgres.sh"])
def test_unknown_command_prints_usage(script: str) -> None:
    done = subprocess.run(["bash", str(ROOT / script), "restart"], capture_output=True, text=True)
    assert done.returncode == 2 and "usage:" in done.stderr and "start|stop|status" in done.stderr


def _run(script: str, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(ROOT / script), command], capture_output=True, text=True, timeout=120)


@pytest.mark.kafka
def test_kafka_start_is_idempotent_and_prints_the_url_last(kafka_url: str) -> None:
    for command in ("start", "status"):
        done = _run("scripts/kafka.sh", command)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[-1] == kafka_url
    assert "already running" in _run("scripts/kafka.sh", "start").stdout
    BusUrl.parse(kafka_url + "/topic")  # the printed form is what the bus accepts


@pytest.mark.postgres
def test_postgres_start_is_idempotent_and_prints_the_url_last(postgres_url: str) -> None:
    for command in ("start", "status"):
        done = _run("scripts/postgres.sh", command)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[-1] == postgres_url
    assert postgres_url.startswith("postgresql://") and "@127.0.0.1:" in postgres_url
    assert postgres_url.endswith("/pulse")


@pytest.mark.postgres
def test_postgres_takes_password_logins_and_delivers_notifications(postgres_url: str) -> None:
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("pulse",)
        conn.execute("CREATE TEMP TABLE t (id int PRIMARY KEY)")  # the role may create objects in its database
        conn.execute("LISTEN pulse_test")
        with psycopg.connect(postgres_url, autocommit=True) as other:
            other.execute("SELECT pg_notify('pulse_test', 'window 42')")
        assert [n.payload for n in conn.notifies(timeout=5, stop_after=1)] == ["window 42"]
    wrong = psycopg.conninfo.make_conninfo(postgres_url, password="wrong-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong, connect_timeout=5)
