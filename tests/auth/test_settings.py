"""The access settings read from DOCC_* variables, and refused when unusable."""

from __future__ import annotations

import pytest

from server.config import Settings, SettingsError


def test_access_settings_are_read_from_the_environment():
    settings = Settings.from_env({
        "DOCC_RATE_LIMIT_PER_MINUTE": "50", "DOCC_RATE_LIMIT_BULK_PER_MINUTE": "5",
        "DOCC_RATE_LIMIT_AUTH_PER_MINUTE": "2", "DOCC_GRAPHQL_SUGGESTIONS": "false",
        "DOCC_JWT_ISSUER": "https://idp", "DOCC_JWT_JWKS_URL": "/etc/jwks.json", "DOCC_WS_AUTH_CHECK_SECONDS": "2.5",
    })
    assert (settings.rate_limit_per_minute, settings.rate_limit_bulk_per_minute,
            settings.rate_limit_auth_per_minute) == (50, 5, 2)
    assert settings.graphql_suggestions is False
    assert settings.auth.external_jwt and settings.auth.jwt_audience == "docc-api"
    assert settings.auth.ws_auth_check_seconds == 2.5


def test_defaults_follow_the_reference():
    settings = Settings.from_env({})
    assert (settings.rate_limit_per_minute, settings.rate_limit_bulk_per_minute,
            settings.rate_limit_auth_per_minute) == (1000, 100, 10)
    assert not settings.auth.external_jwt
    assert settings.auth.jwt_algorithms == ("RS256", "ES256")


@pytest.mark.parametrize("env", [{"DOCC_RATE_LIMIT_PER_MINUTE": "0"}, {"DOCC_JWT_SIGNING_KEY": "short"},
                                 {"DOCC_WS_AUTH_CHECK_SECONDS": "soon"}])
def test_unusable_values_are_refused(env):
    with pytest.raises(SettingsError):
        Settings.from_env(env)
