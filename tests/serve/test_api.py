"""The REST API over a real SQLite store: shapes and values of docs/api.md, 404s, 4xx on bad parameters."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from networkpulse.errors import ConfigError
from networkpulse.serve import create_app
from networkpulse.store import open_store
from networkpulse.store.base import Store
from tests.serve.helpers import LOGINS, STATS, T0_MS, window

#: Windows written without analytics (as these hand-built ones are) have clusters without an identity.
NO_LIFE = {"cluster_id": None, "event": None, "parents": [], "trend": None}

SUMMARY_KEYS = {
    "id", "start", "end", "start_ms", "end_ms", "events", "interactions", "vertices", "edges", "components",
    "largest", "late_events", "clusters", "provisional",
}  # fmt: skip


def test_window_list_is_newest_first_and_pages(client: TestClient, filled: list[int]) -> None:
    body = client.get("/api/windows").json()
    assert [w["id"] for w in body["windows"]] == filled[::-1]
    assert body["next_before"] is None
    assert all(set(w) == SUMMARY_KEYS for w in body["windows"])
    first = body["windows"][-1]
    assert first == {
        "id": filled[0], "start": "2015-01-01T12:00:00Z", "end": "2015-01-01T12:10:00Z", "start_ms": T0_MS,
        "end_ms": T0_MS + 600_000, "events": 100, "interactions": 40, "vertices": 7, "edges": 5,
        "components": 2, "largest": 4, "late_events": 0, "clusters": 2, "provisional": False,
    }  # fmt: skip

    page = client.get("/api/windows", params={"limit": 2}).json()
    assert [w["id"] for w in page["windows"]] == [filled[2], filled[1]]
    assert page["next_before"] == filled[1]
    rest = client.get("/api/windows", params={"limit": 2, "before": page["next_before"]}).json()
    assert [w["id"] for w in rest["windows"]] == [filled[0]]
    assert rest["next_before"] is None


def test_window_detail_has_clusters_largest_first(client: TestClient, filled: list[int]) -> None:
    body = client.get(f"/api/windows/{filled[0]}").json()
    assert set(body) == SUMMARY_KEYS | {"cluster_list"}
    assert body["id"] == filled[0]
    big, small = body["cluster_list"]
    assert big == {
        "rank": 0, "size": 4, "members": ["alice", "bob", "carol", "dave"], "edges": [[0, 1], [1, 2], [1, 3]],
        **NO_LIFE,
    }  # fmt: skip
    assert small == {
        "rank": 1, "size": 3, "members": ["erin", "frank", "dependabot[bot]"], "edges": [[0, 2], [1, 2]],
        **NO_LIFE,
    }  # fmt: skip

    one = client.get(f"/api/windows/{filled[0]}", params={"max_clusters": 1}).json()
    assert [c["rank"] for c in one["cluster_list"]] == [0]
    none = client.get(f"/api/windows/{filled[0]}", params={"max_clusters": 0}).json()
    assert none["cluster_list"] == [] and none["clusters"] == 2


def test_latest_is_the_newest_window(client: TestClient, filled: list[int]) -> None:
    body = client.get("/api/windows/latest").json()
    assert body["id"] == filled[-1]
    assert body["cluster_list"] == [] and body["clusters"] == 0
    assert body["start"] == "2015-01-01T12:02:00Z"


def test_cluster_detail_carries_its_window(client: TestClient, filled: list[int]) -> None:
    body = client.get(f"/api/windows/{filled[1]}/clusters/0").json()
    assert body["rank"] == 0 and body["size"] == 3
    assert body["members"] == ["alice", "erin", "dependabot[bot]"]
    assert body["edges"] == [[0, 1], [1, 2]]
    summary = next(w for w in client.get("/api/windows").json()["windows"] if w["id"] == filled[1])
    assert body["window"] == summary
    assert body["window"]["late_events"] == 2


def test_login_history_newest_first_with_neighbors(client: TestClient, filled: list[int]) -> None:
    body = client.get("/api/logins/alice/history").json()
    assert body["login"] == "alice"
    newest, oldest = body["history"]
    assert newest["window_id"] == filled[1] and oldest["window_id"] == filled[0]
    assert newest["start"] == "2015-01-01T12:01:00Z" and newest["end_ms"] == T0_MS + 11 * 60_000
    assert (newest["rank"], newest["size"], newest["neighbors"]) == (0, 3, ["erin"])
    assert sorted(newest["members"]) == sorted(["alice", "erin", "dependabot[bot]"])
    assert oldest["neighbors"] == ["bob"]
    bob = client.get("/api/logins/bob/history").json()["history"]
    assert sorted(bob[0]["neighbors"]) == ["alice", "carol", "dave"]

    assert len(client.get("/api/logins/alice/history", params={"limit": 1}).json()["history"]) == 1
    bot = client.get("/api/logins/dependabot%5Bbot%5D/history").json()
    assert bot["login"] == "dependabot[bot]" and len(bot["history"]) == 2
    assert client.get("/api/logins/nobody-here/history").json() == {"login": "nobody-here", "history": []}


def test_stats_and_health(client: TestClient, filled: list[int]) -> None:
    assert client.get("/api/stats").json() == STATS
    assert client.get("/api/health").json() == {"status": "ok", "latest_window_id": filled[-1]}


@pytest.mark.parametrize(
    "path",
    [
        "/api/windows/987654",
        "/api/windows/0",
        "/api/windows/987654/clusters/0",
        "/api/windows/{first}/clusters/2",
        "/api/windows/{first}/clusters/9223372036854775807",
        "/api/nothing-here",
    ],
)
def test_absent_things_are_404_with_a_message(client: TestClient, filled: list[int], path: str) -> None:
    response = client.get(path.format(first=filled[0]))
    assert response.status_code == 404
    assert isinstance(response.json()["detail"], str)


@pytest.mark.parametrize(
    "path",
    [
        "/api/windows?limit=0",
        "/api/windows?limit=1001",
        "/api/windows?limit=-5",
        "/api/windows?limit=ten",
        "/api/windows?before=-1",
        "/api/windows?before=9223372036854775808",
        "/api/windows?before=1e3",
        "/api/windows/-1",
        "/api/windows/99999999999999999999999999",
        "/api/windows/abc",
        "/api/windows/latest?max_clusters=-1",
        "/api/windows/latest?max_clusters=1001",
        "/api/windows/1?max_clusters=x",
        "/api/windows/1/clusters/-1",
        "/api/windows/1/clusters/18446744073709551616",
        "/api/logins/bad%20login/history",
        "/api/logins/%C3%BCnicode/history",
        "/api/logins/semi;colon/history",
        "/api/logins/%00/history",
        "/api/logins/" + "a" * 101 + "/history",
        "/api/logins/alice/history?limit=0",
        "/api/logins/alice/history?limit=100000",
    ],
)
def test_bad_parameters_are_422_with_a_sentence(client: TestClient, filled: list[int], path: str) -> None:
    response = client.get(path)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail


def test_empty_then_appearing_store(tmp_path: Path) -> None:
    """The server starts before the pipeline has created the file, then sees it appear and fill."""
    url = f"sqlite:///{tmp_path / 'later.db'}"
    with TestClient(create_app(url)) as client:
        assert client.get("/api/health").json() == {"status": "ok", "latest_window_id": None}
        assert client.get("/api/windows").json() == {"windows": [], "next_before": None}
        assert client.get("/api/windows/latest").status_code == 404
        assert client.get("/api/windows/1").status_code == 404
        assert client.get("/api/logins/alice/history").json() == {"login": "alice", "history": []}
        stats = client.get("/api/stats").json()
        assert stats["events"] == 0 and stats["windows"] == 0

        writer = open_store(url)
        try:
            assert client.get("/api/health").json()["latest_window_id"] is None
            (new_id,) = writer.write([window(0)], LOGINS, STATS)
        finally:
            writer.close()
        assert client.get("/api/health").json()["latest_window_id"] == new_id
        assert client.get("/api/windows/latest").json()["id"] == new_id


def test_root_says_how_to_build_the_ui_when_missing(tmp_path: Path, store_url: str) -> None:
    with TestClient(create_app(store_url, static_dir=tmp_path / "no-ui")) as client:
        response = client.get("/")
        assert response.status_code == 200
        assert "text/html" in response.headers["content-type"]
        assert "bash scripts/build_web.sh" in response.text
        assert client.get("/assets/app.js").status_code == 404


def test_root_serves_the_built_ui(tmp_path: Path, store_url: str) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>pulse ui</title>")
    (tmp_path / "assets" / "app.js").write_text("console.log('pulse')")
    with TestClient(create_app(store_url, static_dir=tmp_path)) as client:
        assert "pulse ui" in client.get("/").text
        js = client.get("/assets/app.js")
        assert js.status_code == 200 and "javascript" in js.headers["content-type"]
        assert client.get("/api/health").json()["status"] == "ok"


def test_openapi_names_every_response_model(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    expected = {
        "/api/windows": "WindowPage",
        "/api/windows/latest": "WindowDetail",
        "/api/windows/{window_id}": "WindowDetail",
        "/api/windows/{window_id}/clusters/{rank}": "ClusterDetail",
        "/api/logins/{login}/history": "LoginHistory",
        "/api/stats": "Stats",
        "/api/health": "Health",
        "/api/clusters/{cluster_id}": "ClusterLife",
        "/api/windows/{window_id}/lineage": "WindowLineage",
        "/api/windows/{window_id}/clusters/{rank}/brokers": "ClusterBrokers",
        "/api/logins/{login}/influence": "LoginInfluence",
        "/api/logins/{login}/recommendations": "Recommendations",
        "/api/momentum/growing": "GrowingClusters",
        "/api/momentum/bridges": "BridgeSuggestions",
    }
    assert set(paths) == set(expected)
    for path, model in expected.items():
        ok = paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok["$ref"] == f"#/components/schemas/{model}"
    bad = paths["/api/windows"]["get"]["responses"]["422"]["content"]["application/json"]["schema"]
    assert bad["$ref"] == "#/components/schemas/ErrorDetail"
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    # The live feed's frames are documented too, for the UI.
    frames = spec["components"]["schemas"]
    assert frames["DroppedFrame"]["required"] == ["type", "count", "resume_from"]
    assert frames["WindowFrame"]["properties"]["window"]["$ref"] == "#/components/schemas/WindowDetail"
    assert "HelloFrame" in frames
    cluster = frames["ClusterInWindow"]["properties"]
    assert {"cluster_id", "event", "parents", "trend"} <= set(cluster)  # frames name clusters by the server's id


def test_run_serves_until_interrupted(filled: list[int], store_url: str) -> None:
    """``run`` reports its URL once listening and exits cleanly on Ctrl-C (SIGINT)."""
    code = (
        "import sys\nfrom networkpulse.serve import run\n"
        "run(sys.argv[1], port=0, ready=lambda url: print(url, flush=True))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, store_url], stdout=subprocess.PIPE, text=True, env={**os.environ}
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{url}/api/health").json() == {"status": "ok", "latest_window_id": filled[-1]}
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        proc.kill()


def test_a_store_url_that_can_never_work_fails_at_once() -> None:
    """A typo must not look like a store that stays empty forever (a missing file is fine: it may come)."""
    with pytest.raises(ConfigError, match="store URL"):
        create_app("sqlite:/pulse.db")


def test_provisional_windows_say_so(client: TestClient, writer: Store, filled: list[int]) -> None:
    """Windows a run emitted before the watermark passed them are marked: the next run replaces them."""
    (final, tail) = writer.write([window(3)], LOGINS, STATS, provisional=[window(4)])
    assert client.get(f"/api/windows/{final}").json()["provisional"] is False
    assert client.get(f"/api/windows/{tail}").json()["provisional"] is True
    assert [w["provisional"] for w in client.get("/api/windows", params={"limit": 2}).json()["windows"]] == [
        True,
        False,
    ]


def test_a_store_being_created_is_never_refused(tmp_path: Path) -> None:
    """``pulse demo`` starts the server while the pipeline creates the file: whatever instant the server looks,
    the store is "not there yet" or complete, never "not a networkpulse store"."""
    for trial in range(100):
        url = f"sqlite:///{tmp_path / f'race-{trial}.db'}"
        created = threading.Event()

        def create(url: str = url, created: threading.Event = created) -> None:
            open_store(url).close()
            created.set()

        creator = threading.Thread(target=create)
        creator.start()
        try:
            while not created.is_set():
                create_app(url)
        finally:
            creator.join()


def test_docs_list_exactly_the_routes(client: TestClient) -> None:
    """docs/api.md's endpoint table names every GET route of /openapi.json and no other."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    table = docs.split("## Endpoints", 1)[1].lstrip().split("\n\n", 1)[0]
    listed = {re.sub(r"\{[^}]*\}", "{}", m) for m in re.findall(r"^\| `GET (/api/[^`?]*)", table, re.M)}
    served = {re.sub(r"\{[^}]*\}", "{}", p) for p, ops in client.get("/openapi.json").json()["paths"].items()
              if "get" in ops}
    assert len(served) == 14 and listed == served
