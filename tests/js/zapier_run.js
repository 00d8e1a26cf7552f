// Runs an exported Zapier app through zapier-platform-core's app tester, one call per line.
// Usage: NODE_ENV=test NODE_PATH=tools/zapier/node_modules node tests/js/zapier_run.js EXPORT_DIR
// Reads JSON lines {"method", "authData", "inputData", "meta", "fields"} from stdin, where method
// is a path such as "creates.add_domain.operation.perform" or "authentication.test", and fields
// (optional) keeps only those fields of each item of a list result (big trigger results). REST hook
// steps may also give "targetUrl", "subscribeData", "rawRequest" and "cleanedRequest", passed in
// the bundle as Zapier passes them to performSubscribe, performUnsubscribe and perform.
// Writes one JSON line per call: {"ok": true, "result"} or {"ok": false, "error": {"name",
// "message", "code", "status"}}, with "expiredAuth": true when the error is core's
// ExpiredAuthError. The process lives as long as stdin, like one Zapier account.
'use strict';

const path = require('path');
const readline = require('readline');
const { createAppTester, errors } = require('zapier-platform-core');

const HOOK_KEYS = ['targetUrl', 'subscribeData', 'rawRequest', 'cleanedRequest'];

const app = require(path.resolve(process.argv[2]));
const appTester = createAppTester(app);

// z.errors.Error carries {message, code, status} as JSON in its message.
const describe = (error) => {
  const kind = error instanceof errors.ExpiredAuthError ? { expiredAuth: true } : {};
  try {
    return { name: error.name, ...JSON.parse(error.message), ...kind };
  } catch (_) {
    return { name: error.name, message: error.message, ...kind };
  }
};

const call = async (step) => {
  // The tester wants the function itself (it finds it on the app by identity), not its path.
  const method = step.method.split('.').reduce((node, key) => node[key], app);
  const bundle = {
    authData: step.authData || {},
    inputData: step.inputData || {},
    meta: step.meta || {},
  };
  for (const key of HOOK_KEYS) if (step[key] !== undefined) bundle[key] = step[key];
  try {
    let result = await appTester(method, bundle);
    if (step.fields && Array.isArray(result)) {
      result = result.map((item) => Object.fromEntries(step.fields.map((f) => [f, item[f]])));
    }
    return { ok: true, result };
  } catch (error) {
    return { ok: false, error: describe(error) };
  }
};

const main = async () => {
  for await (const line of readline.createInterface({ input: process.stdin })) {
    if (line.trim()) process.stdout.write(`${JSON.stringify(await call(JSON.parse(line)))}\n`);
  }
};

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
