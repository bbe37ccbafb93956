"""Authentication: credentials from headers (API keys, own and external JWTs), the JWKS client, token minting
and verification, the OAuth token endpoint's grants, and the batched last-used recorder of API keys."""
