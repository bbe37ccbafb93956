"""The edge owns what an error code means in HTTP: every domain error's code has a status there, and no
error carries a status or headers of its own."""

from __future__ import annotations

from resolvers.errors import DoccError, RateLimited, Unauthorized
from server.app import create_app  # noqa: F401  (imports every module that declares an error)
from server.edge.responses import STATUSES, domain_response, headers_of, status_of


def _every_error_class() -> list[type[DoccError]]:
    found, stack = [], [DoccError]
    while stack:
        cls = stack.pop()
        found.append(cls)
        stack.extend(cls.__subclasses__())
    return found


def test_every_declared_code_has_a_status_at_the_edge():
    # given every error class of the domain, authentication and the surfaces that declares its code
    declared = {cls.__name__: cls.code for cls in _every_error_class() if "code" in vars(cls) and cls is not DoccError}
    # then each code answers with a client status, never the 500 of an unexpected failure
    assert declared and {name: code for name, code in declared.items() if code not in STATUSES} == {}
    assert all(400 <= status_of(code) < 500 for code in declared.values())


def test_no_error_carries_an_http_status():
    assert [cls.__name__ for cls in _every_error_class() if "status" in vars(cls)] == []


def test_headers_are_derived_from_the_code_and_its_data():
    # given a refusal for lack of a credential, one for a bad credential, and a rate limit
    missing = Unauthorized("Authentication required", {"reason": "missing"})
    expired = Unauthorized('The "token" has expired', {"reason": "expired"})
    limited = RateLimited("Slow down", {"retry_after": 7}, retry_after=7)
    # when
    answer = domain_response(limited, "req_1")
    # then
    assert headers_of(missing) == {"WWW-Authenticate": 'Bearer realm="docc"'}
    assert headers_of(expired)["WWW-Authenticate"].endswith("error_description=\"The 'token' has expired\"")
    assert answer.status == 429 and answer.headers["Retry-After"] == "7"
    assert not hasattr(limited, "headers")


def test_an_unknown_code_is_a_server_fault():
    assert status_of("SOMETHING_NEW") == 500
