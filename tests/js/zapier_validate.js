// Validates an exported Zapier app with Zapier's own schema package.
// Usage: NODE_PATH=tools/zapier/node_modules node tests/js/zapier_validate.js EXPORT_DIR
// Prints {"app": [errors], "triggers": {key: [errors]}, "keys": {...}} as JSON.
'use strict';

const path = require('path');
const schema = require('zapier-platform-schema');
const TriggerSchema = require('zapier-platform-schema/lib/schemas/TriggerSchema');

// Functions become "$func$2$f$", as zapier-platform-core does before it validates.
const withoutFunctions = (value) => {
  if (typeof value === 'function') return '$func$2$f$';
  if (Array.isArray(value)) return value.map(withoutFunctions);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutFunctions(v)]));
  }
  return value;
};

const messages = (result) => result.errors.map((error) => `${error.property}: ${error.message}`);

const app = withoutFunctions(require(path.resolve(process.argv[2])));
const triggers = {};
for (const [key, trigger] of Object.entries(app.triggers)) {
  triggers[key] = messages(TriggerSchema.validate(trigger));
}
process.stdout.write(
  JSON.stringify({ app: messages(schema.validateAppDefinition(app)), triggers, definition: app }),
);
