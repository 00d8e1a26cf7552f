// Prepares host names and sender patterns with an exported app's runtime (Node's IDN handling),
// for comparison with the reference runner (Python's idna).
// Usage: node tests/js/zapier_hostnames.js EXPORT_DIR '["Bücher.example", ...]'
// Prints [[hostname or null, sender pattern or null], ...] as JSON (null: rejected).
'use strict';

const path = require('path');
const { prepare } = require(path.resolve(process.argv[2], 'lib', 'runtime'));

const z = { errors: { Error } }; // prepare only needs z.errors.Error
const fields = [
  { key: 'host', label: 'Host', format: 'hostname' },
  { key: 'pattern', label: 'Pattern', format: 'sender_pattern' },
];
const attempt = (key, value) => {
  try {
    return prepare(z, fields, { [key]: value })[key];
  } catch (_) {
    return null;
  }
};
const values = JSON.parse(process.argv[3]);
process.stdout.write(
  JSON.stringify(values.map((v) => [attempt('host', v), attempt('pattern', v)])),
);
