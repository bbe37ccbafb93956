"""Which database hosts a connection may reach: DOCC_CONNECTION_HOSTS, and never link-local or metadata.

A host is resolved and every address it resolves to is checked: a name that points at a metadata
service, or a number spelled oddly (`2852039166` is 169.254.169.254), is refused like the address
itself. The job then connects to the address that was checked (libpq `hostaddr`), so a name that
resolves differently a moment later cannot slip past.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time

from .errors import DataPlaneConfigError
from .policy import Policy

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Link-local networks carry cloud metadata services and are never a database's address.
BLOCKED_NETWORKS = tuple(ipaddress.ip_network(n) for n in ("169.254.0.0/16", "fe80::/10"))
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "168.63.129.16"))
METADATA_NAMES = frozenset(("metadata", "metadata.google.internal", "metadata.goog", "metadata.azure.internal",
                            "instance-data", "instance-data.ec2.internal"))
HOST_REFUSED = "Host not allowed (DOCC_CONNECTION_HOSTS)"


def parse_allow_list(raw: str) -> tuple[str, ...]:
    """Entries of DOCC_CONNECTION_HOSTS: host names (`.example.com` for a domain), IPs, CIDR networks."""
    entries: list[str] = []
    for part in raw.split(","):
        entry = part.strip().lower()
        if not entry:
            continue
        try:
            entries.append(str(ipaddress.ip_network(entry, strict=False)))
            continue
        except ValueError:
            pass
        name = entry[1:] if entry.startswith(".") else entry
        labels = name.split(".")
        if not name or not all(label and len(label) <= 63 and label.replace("-", "").isalnum() for label in labels):
            raise ValueError(f"DOCC_CONNECTION_HOSTS: {part.strip()!r} is not a host name, address or network")
        entries.append(entry)
    return tuple(dict.fromkeys(entries))


def _address(text: str) -> IPAddress:
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


# Answers are kept briefly, and lookups of one name at the same moment share one query: resolvers drop
# or delay a burst of identical queries (seen here: five seconds, the C library's retry time, for one in
# a handful of concurrent saves naming one host). Keeping an answer widens nothing: every check applies
# to the addresses it was given, and a job connects to exactly those.
RESOLVED_SECONDS = 30.0
UNRESOLVED_SECONDS = 5.0
_KEPT_NAMES = 1024
_answers: dict[str, tuple[float, tuple[str, ...]]] = {}
_lookups: dict[str, threading.Lock] = {}
_lookups_guard = threading.Lock()


def _lookup(host: str) -> tuple[str, ...]:
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return ()
    return tuple(dict.fromkeys(str(_address(info[4][0])) for info in infos))


def resolve(host: str) -> tuple[str, ...]:
    """Every address `host` resolves to, as the C library resolves it (empty when it does not).

    An answer is reused for `RESOLVED_SECONDS` (`UNRESOLVED_SECONDS` for a name that did not resolve),
    and callers asking for the same name together wait for one lookup.
    """
    kept = _answers.get(host)
    if kept is not None and kept[0] > time.monotonic():
        return kept[1]
    with _lookups_guard:
        if len(_lookups) >= _KEPT_NAMES:  # at worst a name is then looked up twice at once
            _lookups.clear()
            _answers.clear()
        lock = _lookups.setdefault(host, threading.Lock())
    with lock:
        kept = _answers.get(host)
        if kept is not None and kept[0] > time.monotonic():
            return kept[1]
        addresses = _lookup(host)
        _answers[host] = (time.monotonic() + (RESOLVED_SECONDS if addresses else UNRESOLVED_SECONDS), addresses)
    return addresses


def blocked(address: IPAddress) -> bool:
    """True for link-local and metadata addresses."""
    return address in METADATA_ADDRESSES or any(address in net for net in BLOCKED_NETWORKS)


def _name_listed(policy: Policy, host: str) -> bool:
    return any(host == entry or (entry.startswith(".") and host.endswith(entry))
               for entry in policy.connection_hosts if not entry[0].isdigit() and ":" not in entry)


def _network_listed(policy: Policy, address: IPAddress) -> bool:
    for entry in policy.connection_hosts:
        try:
            if address in ipaddress.ip_network(entry):
                return True
        except ValueError:
            continue
    return False


def check_host(policy: Policy, host: str, *, field: str, must_resolve: bool) -> tuple[str, ...]:
    """Refuse a host that is not allowed; returns its checked addresses. Raises DataPlaneConfigError."""
    name = host.lower().rstrip(".")

    def refuse(message: str) -> DataPlaneConfigError:
        return DataPlaneConfigError(f"{field}: {message}", field=field, reason=HOST_REFUSED)

    if name in METADATA_NAMES:
        raise refuse(f"host {host!r} is a cloud metadata service")
    addresses = resolve(name)
    if not addresses:
        # Saving a dataset for a host this server cannot resolve is allowed when nothing restricts
        # hosts (or the name is listed): the job resolves it again and checks it before connecting.
        if must_resolve:
            raise refuse(f"cannot resolve host {host!r}")
        if policy.connection_hosts and not _name_listed(policy, name):
            raise refuse(f"host {host!r} is not in the allowed hosts")
        return ()
    listed_name = _name_listed(policy, name)
    for text in addresses:
        address = _address(text)
        if _network_listed(policy, address):
            continue  # An operator who lists a network explicitly may reach it, even link-local.
        if blocked(address):
            raise refuse(f"host {host!r} resolves to a link-local or metadata address")
        if policy.connection_hosts and not listed_name:
            raise refuse(f"host {host!r} is not in the allowed hosts")
    return addresses


LOCAL_REFUSED = "Host on the server's own machine (DOCC_CONNECTION_LOCAL)"


def check_not_local(policy: Policy, host: str, addresses: tuple[str, ...], *, field: str) -> None:
    """Refuse a host of the server's own machine unless the operator allowed it. Raises DataPlaneConfigError.

    What listens on the server's loopback or its own addresses (its PostgreSQL cluster and every other
    database there, often with trust authentication) is reachable only through the server, so a user
    naming it would borrow the server's position. `DOCC_CONNECTION_LOCAL=true`, or the name or a network
    of it in DOCC_CONNECTION_HOSTS, allows it; named connections are the operator's and are not checked.
    """
    if policy.local_hosts or _name_listed(policy, host.lower().rstrip(".")):
        return
    for text in addresses:
        if is_local(text) and not _network_listed(policy, _address(text)):
            raise DataPlaneConfigError(
                f"{field}: host {host!r} is on the server's own machine; an operator may allow it with "
                "DOCC_CONNECTION_LOCAL=true or DOCC_CONNECTION_HOSTS", field=field, reason=LOCAL_REFUSED)


def is_local(text: str) -> bool:
    """True when an address belongs to this machine (loopback, unspecified, or bound to an interface)."""
    address = _address(text)
    if address.is_loopback or address.is_unspecified:
        return True
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((str(address), 0))  # Only an address of this machine can be bound.
        return True
    except OSError:
        return False
