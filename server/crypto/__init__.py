"""Secrets at rest: the keys (`keys`), the encrypted model fields (`fields`), and the start-up check,
sealing and rotation of what is stored (`stored`)."""

from server.crypto.keys import SecretsError, secret_key_path

__all__ = ["SecretsError", "secret_key_path"]
