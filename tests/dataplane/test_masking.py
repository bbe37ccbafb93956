"""The one masking rule: each credential form is masked, and what is not a secret stays readable."""

from __future__ import annotations

import pytest

from server.engine.dataplane import mask_secrets
from server.engine.dataplane.masking import redact

PW = "Canary-Pw-7f3e9a"


@pytest.mark.parametrize(("text", "masked"), [
    (f"postgresql://etl:{PW}@db:5432/w", "postgresql://etl:***@db:5432/w"),
    (f"postgresql://etl:{PW}@x@db:5432/w", "postgresql://etl:***@db:5432/w"),  # unencoded @ in the password
    (f"postgresql://etl:a:{PW}@db/w", "postgresql://etl:***@db/w"),  # unencoded : in the password
    (f"postgresql://etl@db/w?password={PW}", "postgresql://etl@db/w?password=***"),
    (f"postgresql://etl@db/w?sslmode=require&SSLPASSWORD={PW}", "postgresql://etl@db/w?sslmode=require&SSLPASSWORD=***"),
    (f"https://api.example/x?token={PW}&api_key={PW}&access_token={PW}&key={PW}&secret={PW}",
     "https://api.example/x?token=***&api_key=***&access_token=***&key=***&secret=***"),
    (f"host=db port=5432 user=etl password={PW} dbname=w", "host=db port=5432 user=etl password=*** dbname=w"),
    (f"host=db password='{PW} x' dbname=w", "host=db password='***' dbname=w"),
    (f'{{"password": "{PW}", "user": "etl"}}', '{"password": "***", "user": "etl"}'),
    (f"Authorization: Bearer {PW}", "Authorization: Bearer ***"),
    (f"private-token: {PW}", "private-token: ***"),
    (f"writing to postgresql://etl:{PW}@db/w table t", "writing to postgresql://etl:***@db/w table t"),
])
def test_each_credential_form_is_masked(text, masked):
    assert mask_secrets(text) == masked
    assert PW not in mask_secrets(text)


@pytest.mark.parametrize("text", [
    "postgresql://etl@db:5432/w", "sqlite:////data/x.db", "rows in 10, rows out 8", "monkey=1 sort_key=name",
    "https://example.com/docs?page=2",
])
def test_text_without_secrets_is_left_as_it_is(text):
    assert mask_secrets(text) == text


def test_a_password_echoed_alone_by_a_driver_is_redacted_too():
    url = f"postgresql://etl:{PW.replace('-', '%2D')}@db/w?sslpassword=Other-Secret"
    message = f"authentication failed for password {PW} (ssl: Other-Secret)"
    assert redact(message, url) == "authentication failed for password *** (ssl: ***)"
