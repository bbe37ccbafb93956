"""Authentication at the edge: credentials from headers, rate limits, and the OAuth endpoints."""
