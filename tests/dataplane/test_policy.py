"""The data plane's Policy: built from settings, picklable, and applied to paths, hosts and connection options."""

from __future__ import annotations

import os
import pickle
from dataclasses import replace

import pytest

from server.config import Settings, SettingsError
from server.engine.dataplane import DataPlaneConfigError, Policy, check_connection, policy_from_settings, resolve_path
from server.engine.dataplane.hosts import HOST_REFUSED, LOCAL_REFUSED
from server.engine.dataplane.policy import PgIdentity


def refused(call) -> DataPlaneConfigError:
    with pytest.raises(DataPlaneConfigError) as info:
        call()
    return info.value


def test_the_policy_is_built_from_settings_and_survives_pickling(tmp_path):
    # given a server on SQLite with its data folder as the only root
    settings = replace(Settings(), database_url=f"sqlite://{tmp_path}/docc.db", data_dir=str(tmp_path / "data"))
    identity = PgIdentity(database="docc", database_oid=5, system_id="7", started="1@5432")
    # when
    policy = policy_from_settings(settings, identity=identity, extra_protected=[str(tmp_path / "docc.key")])
    # then
    assert policy.file_roots == (os.path.realpath(tmp_path / "data"),)
    assert f"{tmp_path}/docc.db" in policy.protected_paths and f"{tmp_path}/docc.db-wal" in policy.protected_paths
    assert f"{tmp_path}/docc.key" in policy.protected_paths
    assert pickle.loads(pickle.dumps(policy)) == policy


def test_explicit_roots_widen_the_data_folder_and_hosts_are_read_from_the_environment():
    settings = Settings.from_env({"DOCC_FILE_ROOTS": "/a:/b", "DOCC_CONNECTION_HOSTS": "db.example.com, 10.0.0.0/8",
                                  "DOCC_CONNECTION_WAREHOUSE": "postgresql://h/db"})
    assert settings.file_roots == ("/a", "/b") and settings.data_dir == "./docc-data"
    assert settings.connection_hosts == ("db.example.com", "10.0.0.0/8")
    assert set(settings.connections) == {"warehouse"}  # DOCC_CONNECTION_HOSTS is a setting, not a connection


def test_a_malformed_host_allow_list_stops_the_server_at_start():
    with pytest.raises(SettingsError, match="DOCC_CONNECTION_HOSTS"):
        Settings.from_env({"DOCC_CONNECTION_HOSTS": "db.example.com,not a host"})


def test_no_roots_means_no_file(tmp_path):
    assert refused(lambda: resolve_path(Policy(file_roots=()), str(tmp_path / "x.csv"), field="f")).field == "f"


def test_a_symlink_planted_after_the_check_is_caught_when_the_file_is_opened_again(tmp_path):
    # given a path that was fine when it was saved
    root = tmp_path / "root"
    root.mkdir()
    policy = Policy(file_roots=(str(root),))
    path = root / "in.csv"
    path.write_text("id\n1\n")
    assert resolve_path(policy, str(path), field="source.path") == str(path)
    # when it is replaced by a link to a file outside the roots
    path.unlink()
    os.symlink("/etc/passwd", path)
    # then opening it again is refused
    assert refused(lambda: resolve_path(policy, str(path), field="source.path")).field == "source.path"


@pytest.mark.parametrize("host", [
    "169.254.169.254", "2852039166", "0xa9fea9fe", "169.254.1.1", "[fe80::1]", "[::ffff:169.254.169.254]",
    "[fd00:ec2::254]", "metadata.google.internal", "METADATA.google.internal.",
])
def test_link_local_and_metadata_hosts_are_refused_without_any_allow_list(host):
    # when
    error = refused(lambda: check_connection(Policy(file_roots=()), f"postgresql://u:pw@{host}:5432/db",
                                             field="source.connection"))
    # then
    assert (error.field, error.reason) == ("source.connection", HOST_REFUSED)


def test_the_allow_list_admits_listed_names_and_networks_only():
    policy = Policy(file_roots=(), connection_hosts=("db.example.com", ".corp.example", "10.0.0.0/8"))

    def check(host: str) -> str:
        return check_connection(policy, f"postgresql://u@{host}/db", field="source.connection")

    assert check("10.1.2.3") and check("db.example.com") and check("warehouse.corp.example")
    for host in ("127.0.0.1", "192.168.1.1", "other.example.com", "example.com", "169.254.169.254"):
        assert refused(lambda host=host: check(host)).reason == HOST_REFUSED, host


def test_an_explicitly_listed_network_may_be_link_local():
    policy = Policy(file_roots=(), connection_hosts=("169.254.10.0/24",))
    assert check_connection(policy, "postgresql://u@169.254.10.5/db", field="c")


def test_when_a_job_opens_a_connection_the_host_must_resolve_and_the_checked_address_is_pinned():
    policy = Policy(file_roots=())
    assert refused(lambda: check_connection(policy, "postgresql://u@no-such-host.invalid/db", field="c",
                                            opening=True)).reason == HOST_REFUSED
    uri = check_connection(replace(policy, local_hosts=True), "postgresql://u@localhost:5432/db?sslmode=disable",
                           field="c", opening=True)
    assert "hostaddr=" in uri and "sslmode=disable" in uri


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "0.0.0.0", "127.1", "2130706433",
                                  "[::ffff:127.0.0.1]"])
@pytest.mark.parametrize("opening", [False, True])
def test_a_host_of_the_servers_own_machine_is_refused_unless_the_operator_allows_it(host, opening):
    # given the default policy: what listens on the server's machine is reachable only through the server
    url = f"postgresql://postgres@{host}:5432/postgres"
    error = refused(lambda: check_connection(Policy(file_roots=()), url, field="source.connection", opening=opening))
    assert (error.field, error.reason) == ("source.connection", LOCAL_REFUSED)
    assert "DOCC_CONNECTION_LOCAL" in error.message
    # then DOCC_CONNECTION_LOCAL=true, or the host listed in DOCC_CONNECTION_HOSTS, allows it
    assert check_connection(Policy(file_roots=(), local_hosts=True), url, field="c", opening=opening)
    assert check_connection(Policy(file_roots=(), connection_hosts=("127.0.0.0/8", "::1/128", "0.0.0.0/32",
                                                                    "localhost")), url, field="c", opening=opening)
    # and a named connection is the operator's own choice
    assert check_connection(Policy(file_roots=()), url, field="c", named=True, opening=opening)


def test_an_address_bound_to_one_of_the_machines_interfaces_is_local_too():
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # Picks the address of the route out; nothing is sent.
        except OSError:
            pytest.skip("this machine has no route out, so no address but loopback")
        own = probe.getsockname()[0]
    error = refused(lambda: check_connection(Policy(file_roots=()), f"postgresql://u@{own}:5432/db", field="c"))
    assert error.reason == LOCAL_REFUSED


@pytest.mark.parametrize("url", [
    "postgresql://u@db.example.com/x?host=127.0.0.1", "postgresql://u@db.example.com/x?hostaddr=127.0.0.1",
    "postgresql://u@db.example.com/x?dbname=docc", "postgresql://u@db.example.com/x?port=5433",
    "postgresql://u@db.example.com/x?service=own", "postgresql://u@db.example.com/x?passfile=/etc/pgpass",
    "postgresql://u@db.example.com/x?sslkey=/etc/ssl/key.pem", "postgresql://u@db.example.com/x?sslrootcert=/x",
    "postgresql://u@%2Ftmp/x", "postgresql://u@h1,h2/x", "postgresql://u@db.example.com/x#frag",
    "postgresql://u:pw @db.example.com/x",
])
def test_connection_options_that_could_route_around_the_checks_are_refused(url):
    error = refused(lambda: check_connection(Policy(file_roots=()), url, field="source.connection"))
    assert (error.field, error.reason) == ("source.connection", "Invalid connection string format")
    assert "pw" not in error.message
