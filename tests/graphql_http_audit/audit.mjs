// Runs graphql-http's server audits against a GraphQL endpoint and prints the results as JSON.
// Usage: node audit.mjs <url>   (the credential comes from DOCC_AUDIT_KEY, sent on every request)
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
const key = process.env.DOCC_AUDIT_KEY;
if (!url || !key) {
  console.error('usage: DOCC_AUDIT_KEY=<key> node audit.mjs <url>');
  process.exit(2);
}

// The endpoint refuses anonymous requests, so every audit request carries the key.
function fetchFn(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${key}`);
  return fetch(input, { ...init, headers });
}

const results = [];
for (const audit of serverAudits({ url, fetchFn })) {
  const result = await audit.fn();
  const entry = { id: result.id, name: result.name, status: result.status };
  if (result.status !== 'ok') {
    entry.reason = result.reason;
    entry.httpStatus = result.response.status;
    entry.contentType = result.response.headers.get('content-type');
    entry.body = await result.response.text().catch(() => '');
  }
  results.push(entry);
}
console.log(JSON.stringify(results));
