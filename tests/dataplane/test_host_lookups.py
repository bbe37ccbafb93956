"""Host lookups: one query for callers asking together, answers kept briefly, failures kept shorter."""

from __future__ import annotations

import socket
import threading

import pytest

from server.engine.dataplane import hosts


@pytest.fixture
def resolver(monkeypatch):
    """A fake C library resolver that counts its queries, blocks until released, and a clock the test moves."""
    state = {"now": 1000.0, "queries": [], "answers": {"db.example.com": "203.0.113.7"}}
    release = threading.Event()
    release.set()

    def getaddrinfo(host, port, *args, **kwargs):
        state["queries"].append(host)
        release.wait(10)
        if host not in state["answers"]:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (state["answers"][host], 0))]

    monkeypatch.setattr(hosts.socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(hosts.time, "monotonic", lambda: state["now"])
    monkeypatch.setattr(hosts, "_answers", {})
    monkeypatch.setattr(hosts, "_lookups", {})
    state["release"] = release
    return state


def test_callers_asking_for_one_name_together_share_one_query(resolver):
    # given a resolver that answers only when the test lets it
    resolver["release"].clear()
    results: list[tuple[str, ...]] = []
    threads = [threading.Thread(target=lambda: results.append(hosts.resolve("db.example.com"))) for _ in range(8)]
    # when eight callers ask at once
    for thread in threads:
        thread.start()
    resolver["release"].set()
    for thread in threads:
        thread.join(10)
    # then one query was sent and every caller got its answer
    assert resolver["queries"] == ["db.example.com"]
    assert results == [("203.0.113.7",)] * 8


def test_an_answer_is_kept_for_its_time_and_then_asked_again(resolver):
    assert hosts.resolve("db.example.com") == ("203.0.113.7",)
    resolver["answers"]["db.example.com"] = "203.0.113.8"
    resolver["now"] += hosts.RESOLVED_SECONDS - 1
    assert hosts.resolve("db.example.com") == ("203.0.113.7",)
    assert resolver["queries"] == ["db.example.com"]
    # once its time is up the name is looked up again and the new address is what is checked
    resolver["now"] += 2
    assert hosts.resolve("db.example.com") == ("203.0.113.8",)
    assert resolver["queries"] == ["db.example.com"] * 2


def test_a_name_that_does_not_resolve_is_asked_again_sooner(resolver):
    assert hosts.resolve("new.example.com") == ()
    resolver["answers"]["new.example.com"] = "203.0.113.9"
    resolver["now"] += hosts.UNRESOLVED_SECONDS - 1
    assert hosts.resolve("new.example.com") == ()
    resolver["now"] += 2
    assert hosts.resolve("new.example.com") == ("203.0.113.9",)
    assert hosts.UNRESOLVED_SECONDS < hosts.RESOLVED_SECONDS


def test_a_kept_answer_is_still_checked_against_the_policy(resolver):
    # a name kept while it pointed at a metadata address is refused on every later check too
    resolver["answers"]["sneaky.example.com"] = "169.254.169.254"
    policy = hosts.Policy(file_roots=())
    for _ in range(2):
        with pytest.raises(hosts.DataPlaneConfigError):
            hosts.check_host(policy, "sneaky.example.com", field="source.connection", must_resolve=False)
    assert resolver["queries"] == ["sneaky.example.com"]


def test_the_kept_names_are_bounded(resolver, monkeypatch):
    monkeypatch.setattr(hosts, "_KEPT_NAMES", 4)
    for n in range(10):
        hosts.resolve(f"h{n}.example.com")
    assert len(hosts._answers) <= 4 and len(hosts._lookups) <= 4
