"""Store URLs: which backend opens, what a bad URL says, that no password is ever echoed, and the missing extra.
None of these needs a running server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from networkpulse.errors import ConfigError, StoreError
from networkpulse.store import check_store_url, open_store, redact_url
from tests.test_cli import pulse


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("postgresql://pulse:s3cret@db:5432/pulse", "postgresql://pulse:s3cret@db:5432/pulse"),
        ("postgres://h/db", "postgres://h/db"),
        ("postgresql+psycopg://h/db", "postgresql://h/db"),  # SQLAlchemy-style driver suffix
        ("POSTGRESQL://h/db?sslmode=disable&options=-csearch_path%3Dpulse2", "postgresql://h/db?sslmode=disable"
         "&options=-csearch_path%3Dpulse2"),
        ("sqlite:///pulse.db", "pulse.db"),
        ("sqlite:////abs/pulse.db", "/abs/pulse.db"),
    ],
)
def test_accepted_urls(url, target):
    assert check_store_url(url) == target


@pytest.mark.parametrize(
    "url", ["mysql://h/db", "pulse.db", "sqlite://pulse.db", "sqlite:///", "sqlite:/x.db", "sqlite:///p.db?mode=ro", ""]
)
def test_bad_urls_say_what_is_expected(url):
    with pytest.raises(ConfigError, match=r"sqlite:///relative/path\.db.*postgresql://user:password@host"):
        open_store(url)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://pulse:s3cret@h/db?nonsense=1",
        "postgresql://pulse:s3cret%zz@h/db",  # libpq quotes the bad token: the password
        "postgresql://pulse:s3cret@[::1/db",  # libpq quotes the whole URL
    ],
)
def test_bad_postgres_urls_are_bad_flags_and_hide_the_password(url):
    pytest.importorskip("psycopg")
    with pytest.raises(ConfigError, match="libpq connection URL") as raised:
        check_store_url(url)
    assert "s3cret" not in str(raised.value) and "pulse:***@" in str(raised.value)


def test_redact_url():
    assert redact_url("postgresql://u:p@ss/w@h:5/db?x=1") == "postgresql://u:***@h:5/db?x=1"
    assert redact_url("postgresql://u@h/db?password=abc&user=x") == "postgresql://u@h/db?password=***&user=x"
    assert redact_url("sqlite:///a@b.db") == "sqlite:///a@b.db"


def test_unreachable_server_is_a_one_line_store_error():
    pytest.importorskip("psycopg")
    with pytest.raises(StoreError, match=r"cannot connect \(.*refused") as raised:
        open_store("postgresql://pulse:s3cret@127.0.0.1:1/pulse?connect_timeout=5")
    assert "s3cret" not in str(raised.value) and "\n" not in str(raised.value)


def test_cli_bad_postgres_url_is_exit_2():
    result = pulse("export", "windows", "--store", "postgresql://pulse:s3cret@h/db?nonsense=1")
    assert result.returncode == 2 and "libpq connection URL" in result.stderr, result.stderr
    assert "s3cret" not in result.stderr


def test_missing_psycopg_names_the_install_command(tmp_path: Path):
    # A psycopg that cannot be imported, first on the path: what a machine without the extra sees.
    (tmp_path / "psycopg").mkdir()
    (tmp_path / "psycopg" / "__init__.py").write_text("raise ImportError('No module named psycopg')\n")
    code = (
        "from networkpulse.store import check_store_url, open_store\n"
        "assert check_store_url('postgresql://h/db') == 'postgresql://h/db'\n"
        "try:\n    open_store('postgresql://h/db')\n"
        "except Exception as e:\n    print(type(e).__name__, e)\n"
    )
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.stdout.startswith("MissingExtraError"), out.stdout + out.stderr
    assert "pip install 'networkpulse[postgres]'" in out.stdout
    cli = pulse("export", "windows", "--store", "postgresql://h/db", env={"PYTHONPATH": str(tmp_path)})
    assert cli.returncode == 1 and "pip install 'networkpulse[postgres]'" in cli.stderr, cli.stderr
    assert "Traceback" not in cli.stderr
