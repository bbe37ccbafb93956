"""The HTTP edge both surfaces share (REST and OAuth routes, the GraphQL view): the request middleware and
request ids, JSON bodies, the error envelope and the code -> status map, rate-limit keys and headers, the
route table with its scope guard, and reading the principal of a request."""
