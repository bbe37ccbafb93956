"""Tokens of an external identity provider: RS256 from a PEM file, ES256 from a JWKS file, every refusal."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from server.app import create_app
from server.config import AuthSettings, Settings, SettingsError
from tests.conftest import bearer, test_settings

ISSUER = "https://idp.example.com"
DATASETS = "/api/v1/datasets"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.fixture
def settings(database_url, tmp_path, rsa_key, ec_key) -> Settings:
    pem = tmp_path / "idp.pem"
    pem.write_text(_pem(rsa_key))
    return test_settings(database_url, tmp_path, auth=AuthSettings(jwt_issuer=ISSUER, jwt_public_key_file=str(pem)))


def _claims(**changes) -> dict:
    now = datetime.now(UTC)
    claims = {"iss": ISSUER, "sub": "user@company.com", "aud": "docc-api", "iat": now,
              "exp": now + timedelta(minutes=5), "scope": "read:datasets write:pipelines unknown:thing"}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _token(key, **changes) -> str:
    return jwt.encode(_claims(**changes), key, algorithm="RS256")


async def _reason(resp) -> str:
    assert resp.status == 401, await resp.text()
    assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]
    return (await resp.json())["error"]["details"]["reason"]


async def test_valid_token_maps_scope_claim(anonymous, rsa_key):
    # given a token granting read:datasets (write:pipelines and an unknown scope do not allow writes here)
    token = _token(rsa_key)
    # when
    read = await anonymous.get(DATASETS, headers=bearer(token))
    write = await anonymous.post(DATASETS, headers=bearer(token), json={"name": "x", "source": {"type": "file",
                                                                                               "path": "/data/a.csv"}})
    # then
    assert read.status == 200
    assert write.status == 403
    assert (await write.json())["error"]["details"]["required_scope"] == "write:datasets"


async def test_tampered_token_is_refused(anonymous, rsa_key):
    # given a token whose payload was changed to grant admin after signing
    header, payload, signature = _token(rsa_key).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["scope"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    # when
    resp = await anonymous.get(DATASETS, headers=bearer(f"{header}.{forged}.{signature}"))
    # then
    assert await _reason(resp) == "invalid"


async def test_alg_none_is_refused(anonymous):
    token = jwt.encode(_claims(scope="admin"), None, algorithm="none")
    assert await _reason(await anonymous.get(DATASETS, headers=bearer(token))) == "invalid"


async def test_hmac_signed_with_the_public_key_is_refused(anonymous, rsa_key):
    # given the classic confusion attack: HS256 keyed with the provider's public PEM
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(_claims(scope="admin", iat=None, exp=2_000_000_000)).encode())
    unsigned = f"{header}.{body.rstrip(b'=').decode()}"
    mac = hmac.new(_pem(rsa_key).encode(), unsigned.encode(), hashlib.sha256).digest()
    token = f"{unsigned}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    # when / then
    assert await _reason(await anonymous.get(DATASETS, headers=bearer(token))) == "invalid"


async def test_token_of_another_key_is_refused(anonymous):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert await _reason(await anonymous.get(DATASETS, headers=bearer(_token(stranger)))) == "invalid"


async def test_wrong_issuer_is_refused(anonymous, rsa_key):
    token = _token(rsa_key, iss="https://evil.example.com")
    assert await _reason(await anonymous.get(DATASETS, headers=bearer(token))) == "issuer"


async def test_wrong_audience_is_refused(anonymous, rsa_key):
    token = _token(rsa_key, aud="another-api")
    assert await _reason(await anonymous.get(DATASETS, headers=bearer(token))) == "audience"


async def test_expired_token_is_refused(anonymous, rsa_key):
    past = datetime.now(UTC) - timedelta(minutes=10)
    token = _token(rsa_key, iat=past - timedelta(minutes=5), exp=past)
    assert await _reason(await anonymous.get(DATASETS, headers=bearer(token))) == "expired"


async def test_token_not_yet_valid_is_refused(anonymous, rsa_key):
    token = _token(rsa_key, nbf=datetime.now(UTC) + timedelta(minutes=10))
    assert await _reason(await anonymous.get(DATASETS, headers=bearer(token))) == "not_yet_valid"


async def test_token_without_expiry_is_refused(anonymous, rsa_key):
    token = _token(rsa_key, exp=None)
    assert await _reason(await anonymous.get(DATASETS, headers=bearer(token))) == "invalid"


async def test_workspace_claim_selects_the_workspace(anonymous, client, other_client, rsa_key):
    # given a dataset in ws_other and a token naming ws_other
    made = await other_client.post(DATASETS, json={"name": "theirs", "source": {"type": "file", "path": "/data/a.csv"}})
    dataset_id = (await made.json())["id"]
    token = _token(rsa_key, workspace="ws_other")
    # when
    theirs = await anonymous.get(f"{DATASETS}/{dataset_id}", headers=bearer(token))
    ours = await anonymous.get(f"{DATASETS}/{dataset_id}", headers=bearer(_token(rsa_key)))
    unknown = await anonymous.get(DATASETS, headers=bearer(_token(rsa_key, workspace="ws_nowhere")))
    # then
    assert theirs.status == 200
    assert ours.status == 404
    assert await _reason(unknown) == "workspace"


async def test_es256_from_a_jwks_file(database_url, tmp_path, aiohttp_client, ec_key):
    # given a provider publishing an EC key in a JWKS file
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key()))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "ES256"}]}))
    settings = test_settings(database_url, tmp_path, auth=AuthSettings(jwt_issuer=ISSUER, jwt_jwks_url=str(jwks)))
    http = await aiohttp_client(create_app(settings))
    token = jwt.encode(_claims(), ec_key, algorithm="ES256", headers={"kid": "k1"})
    # when
    resp = await http.get(DATASETS, headers=bearer(token))
    # then
    assert resp.status == 200, await resp.text()


async def test_rs256_from_a_jwks_url_with_key_rotation(database_url, aiohttp_client, aiohttp_server, rsa_key,
                                                       monkeypatch, tmp_path):
    # given a provider serving its JWKS over HTTP (a real server), first with key k1 only, and no refetch
    # cooldown (30 s by default) so the test need not wait for it
    from server.auth import jwt_tokens

    monkeypatch.setattr(jwt_tokens, "JWKS_REFETCH_COOLDOWN_SECONDS", 0.0)
    second = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    published = {"keys": [{**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key())), "kid": "k1"}]}
    served = []

    async def jwks(_request: web.Request) -> web.Response:
        served.append(1)
        return web.json_response(published)

    idp = web.Application()
    idp.router.add_get("/.well-known/jwks.json", jwks)
    server = await aiohttp_server(idp)
    settings = test_settings(database_url, tmp_path, auth=AuthSettings(
        jwt_issuer=ISSUER, jwt_jwks_url=str(server.make_url("/.well-known/jwks.json"))))
    http = await aiohttp_client(create_app(settings))
    # when a token of k1 comes, then the provider rotates to k2 and a token of k2 comes
    first = await http.get(DATASETS, headers=bearer(jwt.encode(_claims(), rsa_key, "RS256", headers={"kid": "k1"})))
    published["keys"].append({**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(second.public_key())), "kid": "k2"})
    rotated = await http.get(DATASETS, headers=bearer(jwt.encode(_claims(), second, "RS256", headers={"kid": "k2"})))
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    unknown = await http.get(DATASETS, headers=bearer(jwt.encode(_claims(), stranger, "RS256",
                                                                 headers={"kid": "k9"})))
    # then both keys verify (the new one after a refetch) and an unknown key is refused
    assert first.status == 200, await first.text()
    assert rotated.status == 200, await rotated.text()
    assert len(served) >= 2
    assert unknown.status == 401 and await _reason(unknown) == "unknown_key"


def test_hmac_and_none_cannot_be_allowed_for_external_tokens():
    for algorithms in ("HS256", "none", "RS256,HS512"):
        with pytest.raises(SettingsError):
            AuthSettings.from_env({"DOCC_JWT_ALGORITHMS": algorithms})
