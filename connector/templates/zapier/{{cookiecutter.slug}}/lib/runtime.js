// Builds a Zapier app definition from MxGuard connector manifests (see ../manifests/).
//
// The manifests say everything: inputs, requests, pagination, what a repeat means. This file only
// interprets them, with the same semantics as the connector's reference interpreter
// (actions/perform.py in the connector project, repeat rules in actions/repeat.py), so every
// platform behaves alike. Instant triggers (REST hooks) talk to an MxGuard bridge, described by
// the connector manifest's `bridge` section and each trigger manifest's `instant`.
'use strict';

const crypto = require('crypto');
const { domainToASCII } = require('url');

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const OBJECT_ID = /^[A-Za-z0-9_-]{1,128}$/;
const DROPDOWN_MAX_PAGES = 10; // a dropdown lists at most 10 pages of domains (5,000)

const isEmpty = (value) =>
  value === undefined || value === null || value === '' || (Array.isArray(value) && !value.length);

// ---------------------------------------------------------------------------------------------
// Inputs: defaults, required, types, choices, ranges and formats, checked before any request.

const invalid = (z, field, problem) =>
  new z.errors.Error(`${field.label}: ${problem}`, 'invalid_input', 400);

// IDNs to punycode, lower case, then the same label rules as the API. Node's domainToASCII
// allows '--' in a label's 3rd and 4th places (IDNA's CheckHyphens off); the API does not.
const hostname = (z, field, value) => {
  const name = domainToASCII(String(value).trim().replace(/\.+$/, '')).toLowerCase();
  const labels = name.split('.');
  const valid = (label) =>
    LABEL.test(label) && (label.slice(2, 4) !== '--' || label.startsWith('xn--'));
  const ok = labels.length >= 2 && labels.every(valid) && /^[a-z]/.test(labels.at(-1));
  if (!ok) throw invalid(z, field, `${JSON.stringify(String(value))} is not a host name`);
  return name;
};

// a@b.com, b.com or *@b.com: the part after the last '@' is a host name.
const senderPattern = (z, field, value) => {
  const text = String(value).trim();
  const at = text.lastIndexOf('@');
  return at < 0
    ? hostname(z, field, text)
    : `${text.slice(0, at + 1)}${hostname(z, field, text.slice(at + 1))}`;
};

// Zapier sends text; numbers and booleans are converted here, with a clear error if they are not.
const coerce = (z, field, value) => {
  if (field.type === 'integer' || field.type === 'number') {
    const number = typeof value === 'number' ? value : Number(String(value).trim());
    if (!Number.isFinite(number) || (field.type === 'integer' && !Number.isInteger(number))) {
      throw invalid(
        z,
        field,
        `${JSON.stringify(value)} is not a ${field.type === 'integer' ? 'whole ' : ''}number`,
      );
    }
    if (field.min !== undefined && number < field.min)
      throw invalid(z, field, `at least ${field.min}`);
    if (field.max !== undefined && number > field.max)
      throw invalid(z, field, `at most ${field.max}`);
    return number;
  }
  if (field.type === 'boolean') {
    const text = String(value).trim().toLowerCase();
    if (['true', 'yes', '1'].includes(text)) return true;
    if (['false', 'no', '0'].includes(text)) return false;
    throw invalid(z, field, `${JSON.stringify(value)} is not yes or no`);
  }
  const text = typeof value === 'string' ? value : String(value);
  if (field.max_length !== undefined && text.length > field.max_length) {
    throw invalid(z, field, `at most ${field.max_length} characters`);
  }
  return text;
};

const prepare = (z, fields, raw) => {
  const values = {};
  for (const field of fields) {
    let value = isEmpty(raw[field.key]) ? field.default : raw[field.key];
    if (isEmpty(value)) {
      if (field.required) throw invalid(z, field, 'required');
      continue;
    }
    // A list field may arrive as one mapped text: "spam, phishing".
    let items = !field.multiple
      ? [value]
      : Array.isArray(value)
        ? value.filter((item) => !isEmpty(item))
        : String(value)
            .split(',')
            .map((item) => item.trim())
            .filter(Boolean);
    items = items.map((item) => coerce(z, field, item));
    for (const item of items) {
      if (field.choices && !field.choices.includes(String(item))) {
        throw invalid(
          z,
          field,
          `${JSON.stringify(item)} is not one of ${field.choices.join(', ')}`,
        );
      }
    }
    if (field.format === 'hostname') items = items.map((item) => hostname(z, field, item));
    if (field.format === 'sender_pattern')
      items = items.map((item) => senderPattern(z, field, item));
    if (field.format === 'object_id' && !items.every((item) => OBJECT_ID.test(item))) {
      throw invalid(z, field, 'not an id (letters, digits, _ and -)');
    }
    if (items.length) values[field.key] = field.multiple ? items : items[0];
  }
  return values;
};

// ---------------------------------------------------------------------------------------------
// Requests

const secondsAgo = (seconds) => new Date(Date.now() - seconds * 1000).toISOString();

// A request value: from an input, "now minus N days", or a constant.
const resolve = (param, inputs) => {
  if (param.input !== undefined) return inputs[param.input];
  if (param.days_ago_input !== undefined) return secondsAgo(inputs[param.days_ago_input] * 86400);
  return param.value;
};

const fromParams = (params, inputs) =>
  Object.fromEntries(params.map((param) => [param.name, resolve(param, inputs)]));

// `base`: where the request goes, the API's base URL unless told (the bridge's, for hooks).
const send = (z, connector, request, inputs, extra = {}, base = connector.base_url) => {
  const path = request.path.replace(/\{(\w+)\}/g, (_, key) =>
    encodeURIComponent(String(inputs[key])),
  );
  // Empty query values are left out; lists become repeated parameters (?verdict=a&verdict=b).
  const params = { ...fromParams(request.query, inputs), ...extra };
  for (const [name, value] of Object.entries(params)) if (isEmpty(value)) delete params[name];
  const options = {
    method: request.method,
    url: base + path,
    params,
    skipThrowForStatus: true, // statuses are interpreted below (repeat rules, clear messages)
    removeMissingValuesFrom: { params: true, body: true },
  };
  if (request.method === 'POST' || request.method === 'PATCH') {
    const body = fromParams(request.body, inputs);
    for (const [name, value] of Object.entries(body))
      if (value === undefined || value === null) delete body[name];
    options.body = body;
    options.headers = { 'Content-Type': 'application/json' };
  }
  return z.request(options);
};

const isOk = (response) => response.status >= 200 && response.status < 300;

// The API's own message, never the token (the API does not echo it; the request is not shown).
// A 401 means the token was revoked or is unknown. In an operation that is a connection gone
// stale: ExpiredAuthError makes Zapier mark the connection expired, hold the Zap's runs until the
// user reconnects, and email them to do so (a plain error would count toward turning the Zap off).
// In the connection test the user is entering the token, and a plain error with the status
// tells them the token is wrong.
// `source` names who answered: MxGuard, or the MxGuard bridge (same error shape, same token).
const apiError = (z, response, connectionTest = false, source = 'MxGuard') => {
  const error = (response.data && response.data.error) || {};
  const detail = error.message ? `: ${error.message}` : '';
  if (response.status === 401) {
    const message =
      `${source} rejected the API token (HTTP 401${detail}). ` +
      'Issue a new token in MxGuard and reconnect.';
    return connectionTest
      ? new z.errors.Error(message, 'authentication_failed', 401)
      : new z.errors.ExpiredAuthError(message);
  }
  return new z.errors.Error(
    `${source} answered HTTP ${response.status}${detail}`,
    error.type || 'http_error',
    response.status,
  );
};

const okData = (z, response, connectionTest = false, source = 'MxGuard') => {
  if (!isOk(response)) throw apiError(z, response, connectionTest, source);
  return response.data;
};

// ---------------------------------------------------------------------------------------------
// Operations

// A trigger's item as Zapier gets it: Zapier keys items on `id`, so a trigger whose items are
// identified by another field gets an `id` copied from it.
const withId = (op, item) =>
  op.polling.id_field === 'id' ? item : { ...item, id: String(item[op.polling.id_field]) };

// A polling trigger. Zapier dedupes by id and wants the newest first; items it is not given are
// never seen, so one poll pages as far as the bound (README: "Polling, bursts and late items").
const poll = async (z, bundle, connector, op, polling) => {
  const inputs = prepare(z, op.inputs, bundle.inputData || {});
  const meta = bundle.meta || {};
  const paging = op.pagination;
  const sample = Boolean(meta.isLoadingSample); // the editor shows a few recent items, however old
  const extra = {
    [paging.limit_param]: sample ? polling.sampleSize : paging.max_limit,
    [op.polling.order_param]: 'desc',
    [op.polling.since_param]: sample ? undefined : secondsAgo(polling.windowSeconds),
  };
  // The first poll of a Zap (isPopulatingDedupe) reads as far as later polls do, so that items
  // already there when the Zap is turned on are all marked as seen.
  const maxPages = sample ? 1 : polling.maxPages;
  const deadline = Date.now() + polling.deadlineSeconds * 1000;
  const items = [];
  const seen = new Set();
  let cursor;
  for (let page = 0; page < maxPages && Date.now() < deadline; page += 1) {
    const response = await send(z, connector, op.request, inputs, {
      ...extra,
      [paging.cursor_param]: cursor,
    });
    const body = okData(z, response);
    for (const item of body[paging.items]) {
      const id = String(item[op.polling.id_field]);
      if (seen.has(id)) continue;
      seen.add(id);
      items.push(withId(op, item));
    }
    if (!body[paging.has_more]) break;
    cursor = body[paging.next_cursor];
  }
  return items;
};

// A paged search: keep items matching the client-side filters, stop at the result limit.
const searchPages = async (z, connector, op, inputs) => {
  const paging = op.pagination;
  const cap = inputs[op.result_limit_input];
  const found = [];
  let cursor;
  for (let page = 0; page < (op.max_pages || 1); page += 1) {
    const body = okData(
      z,
      await send(z, connector, op.request, inputs, { [paging.cursor_param]: cursor }),
    );
    for (const item of body[paging.items]) {
      const keep = Object.entries(op.client_filters || {}).every(
        ([field, input]) =>
          isEmpty(inputs[input]) ||
          String(item[field] ?? '')
            .toLowerCase()
            .includes(String(inputs[input]).toLowerCase()),
      );
      if (keep) found.push(item);
    }
    if (!body[paging.has_more] || (cap && found.length >= cap)) break;
    cursor = body[paging.next_cursor];
  }
  return cap ? found.slice(0, cap) : found;
};

// "{domain} already exists with MX host {real_mx_host}" filled from the inputs and the object.
const fill = (template, values) =>
  template.replace(/\{(\w+)\}/g, (whole, key) =>
    values[key] === undefined ? whole : String(values[key]),
  );

// Python's == on decoded JSON: a missing field is null, lists and objects compare by value.
const equal = (a, b) => {
  const left = a ?? null;
  const right = b ?? null;
  if (left === right) return true;
  if (typeof left !== 'object' || typeof right !== 'object' || left === null || right === null)
    return false;
  if (Array.isArray(left) !== Array.isArray(right)) return false;
  const keys = Object.keys(left);
  if (keys.length !== Object.keys(right).length) return false;
  return keys.every((key) => Object.hasOwn(right, key) && equal(left[key], right[key]));
};

const withOutcome = (result, outcome) => (outcome ? { ...result, outcome } : { ...result });

const conflict = (z, message) => new z.errors.Error(message, 'conflict', 409);

// The object a conflict was about: the lookup's answer, or the matching item of its list.
const existingObject = async (z, connector, rule, inputs) => {
  const found = okData(z, await send(z, connector, rule.lookup, inputs));
  if (rule.find_in === undefined || rule.find_in === null) return found;
  const match = Object.entries(rule.match || {});
  const item = (found[rule.find_in] || []).find((candidate) =>
    match.every(([field, input]) => equal(candidate[field], inputs[input])),
  );
  if (!item) {
    throw conflict(z, 'MxGuard reported a conflict, and the existing object was not found');
  }
  return { ...item };
};

// What the action's repeat rule (actions/repeat.py) answers once its status came back.
const onRepeat = async (z, connector, rule, inputs) => {
  switch (rule.shape) {
    case 'empty': // a search by key that found nothing
      return [];
    case 'absent': // a removal whose object is gone already
      if (rule.check) okData(z, await send(z, connector, rule.check, inputs));
      return withOutcome(fromParams(rule.result || [], inputs), rule.outcome);
    case 'existing': {
      // a creation whose object exists already: returned when it is the one asked for
      const found = await existingObject(z, connector, rule, inputs);
      const differs = Object.entries(rule.same || {}).some(
        ([field, input]) => !equal(found[field], inputs[input]),
      );
      if (differs) throw conflict(z, fill(rule.error, { ...inputs, ...found }));
      return withOutcome(found, rule.outcome);
    }
    case 'current': {
      // a change whose object is already in the target state
      const found = okData(z, await send(z, connector, rule.lookup, inputs));
      if (!equal(found[rule.field], rule.value)) {
        throw conflict(z, fill(rule.error, { ...inputs, ...found }));
      }
      return withOutcome(found, rule.outcome);
    }
    default:
      throw new Error(`Unknown repeat rule shape ${JSON.stringify(rule.shape)}`);
  }
};

// A create, update, delete or search: one request; on the error status of the manifest's repeat
// rule, what the rule says (an outcome such as "existing", an empty search, or a clear error).
const perform = async (z, bundle, connector, op) => {
  const inputs = prepare(z, op.inputs, bundle.inputData || {});
  if (op.pagination) return searchPages(z, connector, op, inputs);
  const response = await send(z, connector, op.request, inputs);
  if (isOk(response)) {
    const result = response.content ? response.data : fromParams(op.success_result || [], inputs);
    if (op.kind === 'search') return [result];
    return withOutcome(result, op.success_outcome);
  }
  const rule = op.repeat;
  if (!rule || response.status !== rule.status) throw apiError(z, response);
  return onRepeat(z, connector, rule, inputs);
};

// A dynamic dropdown's source (e.g. the account's domains), as a hidden trigger.
const listSource = async (z, bundle, connector, source) => {
  if (bundle.meta && bundle.meta.page) return []; // the first "page" already holds everything
  const paging = source.pagination;
  const items = [];
  let cursor;
  for (let page = 0; page < DROPDOWN_MAX_PAGES; page += 1) {
    const body = okData(
      z,
      await send(z, connector, source.request, {}, { [paging.cursor_param]: cursor }),
    );
    items.push(...body[paging.items]);
    if (!body[paging.has_more]) break;
    cursor = body[paging.next_cursor];
  }
  return items;
};

// ---------------------------------------------------------------------------------------------
// Instant triggers: REST hooks through an MxGuard bridge (`mxguard bridge serve`).
//
// Zapier gives each Zap a webhook URL (bundle.targetUrl); performSubscribe asks the bridge to POST
// the trigger's items there, and Zapier keeps the bridge's answer (id and signing secret) as
// bundle.subscribeData. Each delivery then runs `perform`, which checks the Standard Webhooks
// signature before anything fires. Everything bridge-specific comes from connector.bridge.

const BRIDGE = 'The MxGuard bridge';
const DESCRIPTION_MAX = 200; // a subscription's description: well under what a bridge keeps

// The bridge URL as the user typed it (trimmed), or '' when the connection has none.
const bridgeInput = (connector, bundle) =>
  connector.bridge
    ? String((bundle.authData || {})[connector.bridge.url_field.key] || '').trim()
    : '';

const bridgeUrlValid = (connector, url) => new RegExp(connector.bridge.url_field.pattern).test(url);

// The connection's bridge URL without its trailing '/', checked before any request. The value is
// never quoted back: a token pasted into the wrong field must not end up in an error message.
const bridgeBase = (z, connector, bundle) => {
  const field = connector.bridge.url_field;
  const url = bridgeInput(connector, bundle);
  if (!url) {
    throw new z.errors.Error(
      `This instant trigger needs the ${field.label} of an MxGuard bridge ` +
        '(`mxguard bridge serve`) in the connection: edit the connection and fill it in. ' +
        'The polling trigger of the same name works without a bridge.',
      'bridge_required',
      400,
    );
  }
  if (!bridgeUrlValid(connector, url)) {
    throw new z.errors.Error(
      `${field.label}: not an http(s) address such as https://bridge.example.com ` +
        '(no user:password, query or fragment). Edit the connection.',
      'invalid_input',
      400,
    );
  }
  return url.replace(/\/+$/, '');
};

// One request to the bridge (the bearer middleware adds the token for its URL); an unreachable
// bridge is a clear error rather than a network stack trace.
const bridgeSend = async (z, connector, base, request, inputs) => {
  try {
    return await send(z, connector, request, inputs, {}, base);
  } catch (error) {
    if (error instanceof z.errors.Error || error instanceof z.errors.ThrottledError) throw error;
    const reason = error.code || error.message || 'no answer';
    throw new z.errors.Error(
      `${BRIDGE} at ${base} cannot be reached (${reason}). ` +
        'Check that it runs and the Bridge URL of the connection.',
      'bridge_unreachable',
      502,
    );
  }
};

const describeZap = (bundle) => {
  const zap = (bundle.meta || {}).zap || {};
  const parts = ['Zapier'];
  if (zap.id) parts.push(`Zap ${zap.id}`);
  if (zap.name) parts.push(JSON.stringify(String(zap.name)));
  return parts.join(' ').slice(0, DESCRIPTION_MAX);
};

// performSubscribe: the trigger's inputs checked and prepared exactly as a poll prepares them,
// then sent to the bridge as the subscription's filters. The answer becomes subscribeData.
const subscribe = async (z, bundle, connector, op) => {
  const bridge = connector.bridge;
  const filters = prepare(z, op.inputs, bundle.inputData || {});
  const base = bridgeBase(z, connector, bundle);
  if (!bundle.targetUrl) {
    throw new z.errors.Error('Zapier gave no webhook URL to subscribe', 'invalid_input', 400);
  }
  const inputs = {
    event: op.instant.event,
    filters,
    target_url: bundle.targetUrl,
    description: describeZap(bundle),
  };
  const made = okData(
    z,
    await bridgeSend(z, connector, base, bridge.subscribe, inputs),
    false,
    BRIDGE,
  );
  if (!made || !made[bridge.id_field] || !made[bridge.secret_field]) {
    throw new z.errors.Error(
      `${BRIDGE} at ${base} answered without a subscription: is it an MxGuard bridge?`,
      'bridge_error',
      502,
    );
  }
  return made;
};

// performUnsubscribe: deletes the subscription; one already gone (deleted on the bridge, or an
// unsubscribe repeated by Zapier) is not an error.
const unsubscribe = async (z, bundle, connector) => {
  const bridge = connector.bridge;
  const id = (bundle.subscribeData || {})[bridge.id_field];
  if (!id) return { outcome: 'already_absent' }; // nothing was subscribed
  const base = bridgeBase(z, connector, bundle);
  const response = await bridgeSend(z, connector, base, bridge.unsubscribe, { id });
  if (response.status === 404) return { [bridge.id_field]: id, outcome: 'already_absent' };
  okData(z, response, false, BRIDGE);
  return { [bridge.id_field]: id, outcome: 'removed' };
};

// A header of bundle.rawRequest. Zapier names headers in Camel-Case and prefixes all but
// Content-Type and Content-Length with `Http-` (`webhook-id` arrives as `Http-Webhook-Id`);
// names are compared without case, prefix or '_' vs '-', so either form is read.
const rawHeader = (headers, name) => {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers || {})) {
    const normal = key.toLowerCase().replace(/_/g, '-');
    if (normal === wanted || normal === `http-${wanted}`) {
      return String(Array.isArray(value) ? value[0] : value).trim();
    }
  }
  return '';
};

// A request that does not verify is refused with HaltedError: the Zap does not run, the run is
// marked halted with this message, and (unlike an error) it never counts toward Zapier turning
// the Zap off, so whoever posts forged requests to the Zap's URL can neither trigger it nor get
// it switched off.
const refused = (z, why) =>
  new z.errors.HaltedError(
    `Ignored a request to this Zap's webhook URL: ${why}. Only deliveries signed by the ` +
      "MxGuard bridge with this subscription's secret trigger the Zap.",
  );

// The Standard Webhooks check (https://www.standardwebhooks.com/): HMAC-SHA256 keyed by the
// base64 secret after its prefix, over `{id}.{timestamp}.{body}`, sent as `v1,<base64>` (several,
// space-separated, while a secret rotates); the timestamp within the tolerance (replays).
// Returns the signed body, parsed.
const verifiedBody = (z, connector, bundle) => {
  const { signature, secret_field: secretField } = connector.bridge;
  const secret = String((bundle.subscribeData || {})[secretField] || '');
  if (!secret) {
    throw refused(z, 'the subscription has no signing secret (turn the Zap off and on again)');
  }
  const raw = bundle.rawRequest || {};
  if (typeof raw.content !== 'string') throw refused(z, 'there is no raw body to verify');
  const names = [signature.id_header, signature.timestamp_header, signature.signature_header];
  const [id, stamp, signatures] = names.map((name) => rawHeader(raw.headers, name));
  const missing = names.filter((_, index) => ![id, stamp, signatures][index]);
  if (missing.length) throw refused(z, `header(s) ${missing.join(', ')} missing`);
  if (!/^[0-9]{1,12}$/.test(stamp)) {
    throw refused(z, `${signature.timestamp_header} is not a whole number of seconds`);
  }
  const age = Math.floor(Date.now() / 1000) - Number(stamp);
  if (Math.abs(age) > signature.tolerance_s) {
    throw refused(
      z,
      `${signature.timestamp_header} is ${Math.abs(age)} s ${age > 0 ? 'old' : 'ahead'}, ` +
        `beyond the ${signature.tolerance_s} s tolerance (a replay, or a clock far off)`,
    );
  }
  const key = secret.startsWith(signature.secret_prefix)
    ? Buffer.from(secret.slice(signature.secret_prefix.length), 'base64')
    : Buffer.alloc(0);
  if (key.length < signature.secret_min_bytes) {
    throw refused(z, "the subscription's signing secret is malformed");
  }
  const expected = crypto
    .createHmac('sha256', key)
    .update(`${id}.${stamp}.${raw.content}`, 'utf8')
    .digest();
  const matches = signatures.split(/\s+/).some((versioned) => {
    const comma = versioned.indexOf(',');
    if (comma < 0 || versioned.slice(0, comma) !== 'v1') return false;
    const given = Buffer.from(versioned.slice(comma + 1), 'base64');
    return given.length === expected.length && crypto.timingSafeEqual(given, expected);
  });
  if (!matches) {
    throw refused(
      z,
      'its signature does not match (the body, id or timestamp was altered, or another ' +
        'secret signed it)',
    );
  }
  try {
    return JSON.parse(raw.content);
  } catch (_) {
    throw refused(z, 'the signed body is not JSON');
  }
};

// perform: one delivery, verified, becomes one item, as the polling trigger returns it.
const delivered = (z, bundle, connector, op) => {
  const { payload } = connector.bridge;
  const body = verifiedBody(z, connector, bundle);
  if (!body || body[payload.event_field] !== op.instant.event) {
    throw refused(z, `it is not a ${op.instant.event} delivery`);
  }
  const item = body[payload.item_field];
  if (!item || typeof item !== 'object') throw refused(z, 'it carries no item');
  return [withId(op, item)];
};

// performList (the Zap editor's test): the bridge's newest items of the event, as deliveries
// carry them. None yet gives []; the Zap editor then offers the trigger's static sample.
const samples = async (z, bundle, connector, op, polling) => {
  const { payload, samples: request, items } = connector.bridge;
  prepare(z, op.inputs, bundle.inputData || {}); // the same input errors as subscribing
  const base = bridgeBase(z, connector, bundle);
  const body = okData(
    z,
    await bridgeSend(z, connector, base, request, { event: op.instant.event }),
    false,
    BRIDGE,
  );
  return ((body && body[items]) || [])
    .map((delivery) => delivery[payload.item_field])
    .filter((item) => item && typeof item === 'object')
    .slice(0, polling.sampleSize)
    .map((item) => withId(op, item));
};

// ---------------------------------------------------------------------------------------------
// Zapier definitions

const INPUT_TYPES = {
  integer: 'integer',
  number: 'number',
  boolean: 'boolean',
  datetime: 'datetime',
};
const OUTPUT_TYPES = { ...INPUT_TYPES, string: 'string' };

const sourceTriggerKey = (sourceKey) => `list_${sourceKey}`;

const inputField = (field) => {
  const out = { key: field.key, label: field.label, required: Boolean(field.required) };
  if (field.help) out.helpText = field.help;
  out.type = INPUT_TYPES[field.type] || 'string';
  if (field.multiple) out.list = true;
  if (!isEmpty(field.default)) out.default = String(field.default);
  if (field.dynamic) {
    const { source, value, label } = field.dynamic;
    out.dynamic = `${sourceTriggerKey(source)}.${value}.${label}`;
  } else if (field.choices) {
    out.choices = field.choices;
  }
  return out;
};

const outputField = (field) => {
  const out = { key: field.key, label: field.label };
  if (field.type === 'array') out.list = true;
  else if (OUTPUT_TYPES[field.type]) out.type = OUTPUT_TYPES[field.type];
  if (field.primary) out.primary = true;
  return out;
};

const display = (op) => {
  let description = op.description;
  if (op.kind === 'trigger') description = description.replace(/^Fires when/, 'Triggers when');
  if (op.on_repeat && op.kind !== 'search')
    description = `${description} On repeat: ${op.on_repeat}`;
  return { label: op.label, description };
};

const definition = (op, perform) => ({
  key: op.key,
  noun: op.noun,
  display: display(op),
  operation: {
    ...(op.kind === 'trigger' ? { type: 'polling' } : {}),
    inputFields: op.inputs.map(inputField),
    outputFields: op.output.map(outputField),
    sample: op.sample,
    perform,
  },
});

// The REST hook twin of a polling trigger: its own key, label and description, and the polling
// trigger's inputs, outputs and sample (a delivered item is what a poll returns).
const hookDefinition = (connector, op, polling) => ({
  key: op.instant.key,
  noun: op.noun,
  display: display({ ...op, label: op.instant.label, description: op.instant.description }),
  operation: {
    type: 'hook',
    inputFields: op.inputs.map(inputField),
    outputFields: op.output.map(outputField),
    sample: op.sample,
    performSubscribe: (z, bundle) => subscribe(z, bundle, connector, op),
    performUnsubscribe: (z, bundle) => unsubscribe(z, bundle, connector),
    perform: (z, bundle) => delivered(z, bundle, connector, op),
    performList: (z, bundle) => samples(z, bundle, connector, op, polling),
  },
});

// Adds the bearer token to requests for the API and for the connection's bridge (and nowhere
// else), after checking its form. The bridge counts only with a URL of the manifest's form.
const bearer = (connector) => (request, z, bundle) => {
  const bases = [connector.base_url];
  const bridge = bridgeInput(connector, bundle);
  if (bridge && bridgeUrlValid(connector, bridge)) bases.push(bridge.replace(/\/+$/, ''));
  if (!bases.some((base) => String(request.url).startsWith(`${base}/`))) return request;
  const { field, header, scheme } = connector.auth;
  const token = String((bundle.authData || {})[field.key] || '').trim();
  if (!new RegExp(field.pattern).test(token)) {
    throw new z.errors.Error(
      `The ${field.label} is not in the form MxGuard issues (mxg_live_ or mxg_test_ and 43 letters, ` +
        'digits, _ or -). Copy it again from MxGuard and reconnect.',
      'invalid_token',
      401,
    );
  }
  request.headers = { ...request.headers, [header]: `${scheme} ${token}` };
  return request;
};

// The connection's optional bridge URL (instant triggers only).
const bridgeField = (field) => ({
  key: field.key,
  label: field.label,
  type: 'string',
  required: false,
  helpText: field.help,
});

const buildApp = ({ connector, operations, polling, version, platformVersion }) => {
  const app = {
    version,
    platformVersion,
    authentication: {
      type: 'custom',
      fields: [
        {
          key: connector.auth.field.key,
          label: connector.auth.field.label,
          type: 'password',
          required: true,
          helpText: connector.auth.field.help,
        },
        ...(connector.bridge ? [bridgeField(connector.bridge.url_field)] : []),
      ],
      test: async (z, bundle) => {
        // A bridge URL is checked for its form only: the bridge is not asked, so a bridge that
        // is down never breaks the connection that polling triggers and actions use.
        if (bridgeInput(connector, bundle)) bridgeBase(z, connector, bundle);
        return okData(z, await send(z, connector, connector.connection_test.request, {}), true);
      },
      // Zapier calls this with the test's answer as inputData: the account's name.
      connectionLabel: (z, bundle) =>
        String((bundle.inputData || {})[connector.connection_test.label_field] || ''),
    },
    beforeRequest: [bearer(connector)],
    afterResponse: [],
    triggers: {},
    creates: {},
    searches: {},
  };
  for (const source of connector.list_sources) {
    const key = sourceTriggerKey(source.key);
    app.triggers[key] = {
      key,
      noun: source.key,
      display: {
        label: `List ${source.key}`,
        description: `Fills dropdowns with the account's ${source.key}.`,
        hidden: true,
      },
      operation: {
        type: 'polling',
        perform: (z, bundle) => listSource(z, bundle, connector, source),
      },
    };
  }
  for (const op of operations) {
    if (op.kind === 'trigger') {
      app.triggers[op.key] = definition(op, (z, bundle) => poll(z, bundle, connector, op, polling));
      if (op.instant) app.triggers[op.instant.key] = hookDefinition(connector, op, polling);
    } else {
      const group = op.kind === 'search' ? app.searches : app.creates; // update, delete: creates too
      group[op.key] = definition(op, (z, bundle) => perform(z, bundle, connector, op));
    }
  }
  return app;
};

module.exports = { buildApp, prepare }; // prepare: for the connector's own tests
