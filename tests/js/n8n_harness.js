#!/usr/bin/env node
/*
 * Runs the compiled n8n-nodes-mxguard nodes outside n8n, against a live sandbox over real HTTP.
 *
 * Usage: node n8n_harness.js <package dir (with dist/)>
 * It reads one JSON command per line on stdin and answers one JSON line on stdout:
 *   {"cmd": "poll", ...}         the trigger's poll(), static data kept in a JSON file between polls
 *   {"cmd": "execute", ...}      the action node's execute() for one input item
 *   {"cmd": "loadOptions", ...}  a dropdown's loadOptions method
 *   {"cmd": "credentialTest"}    the credential's declarative test request
 *   {"cmd": "describe"}          the compiled node and credential descriptions, the events' polling
 *   {"cmd": "hook", ...}         the instant trigger's webhookMethods.default[method] (checkExists,
 *                                create, delete) for `webhook_url`, static data kept in a JSON file
 *   {"cmd": "webhook", ...}      the instant trigger's webhook() for one request (`headers`, the raw
 *                                `body` as text): the status answered and the items emitted
 *   {"cmd": "time"}              the package's timestamp parsing and formatting
 * While a poll runs it may ask {"event": "hook", "page": n} (a scenario step between two pages)
 * and waits for {"cmd": "resume"}, which may set the clock on ("now_us": the steps advanced it).
 *
 * What it stands in for, and how: getNodeParameter, getWorkflowStaticData, getMode, getNode,
 * getCredentials, getWorkflow, getNodeWebhookUrl, getRequestObject (rawBody), getResponseObject
 * (status().json()), getHeaderData, logger, and helpers.httpRequestWithAuthentication, which applies the compiled
 * credential's `authenticate` block and serialises like n8n (qs arrays per `arrayFormat`, JSON
 * bodies, `returnFullResponse`, `ignoreHttpStatusErrors`). The poll's clock is the scenario's:
 * `clock.nowMicros` of the package is replaced, as the node reads time only through it.
 *
 * A poll's answer says how many requests the node sent (`requests`; those the harness fails below
 * are not sent) and what it logged, at every level.
 *
 * Scenario steps that need n8n's delivery model:
 *   page_size         the node's pages (500 items, the manifests' `maxLimit`): the harness sets the
 *                     events' `maxLimit` for the poll, so the node asks for and plans with it
 *   max_pages         the request after that many pages fails (a rate limit): the node stops
 *                     and returns the pages it has, with its cursor committed through them
 *   crash_after_page  the process "dies" after page n was delivered and before its commit: the
 *                     poll's items are reported, but the static data saved is the one the node
 *                     had committed through page n - 1 (what it held when page n was requested)
 */
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');

const pkg = path.resolve(process.argv[2]);
const dist = path.join(pkg, 'dist');
const { clock } = require(path.join(dist, 'nodes/shared/clock.js'));
const { EVENTS } = require(path.join(dist, 'nodes/manifest.js'));
const { MxGuard } = require(path.join(dist, 'nodes/MxGuard/MxGuard.node.js'));
const { MxGuardTrigger } = require(path.join(dist, 'nodes/MxGuardTrigger/MxGuardTrigger.node.js'));
const { MxGuardInstantTrigger } = require(path.join(dist, 'nodes/MxGuardInstantTrigger/MxGuardInstantTrigger.node.js'));
const { MxGuardApi } = require(path.join(dist, 'credentials/MxGuardApi.credentials.js'));

const credentialType = new MxGuardApi();
const lines = readline.createInterface({ input: process.stdin });
const pending = [];
const waiting = [];
lines.on('line', (line) => {
	const message = JSON.parse(line);
	const next = waiting.shift();
	if (next) next(message);
	else pending.push(message);
});
lines.on('close', () => waiting.splice(0).forEach((next) => next(null)));

function nextMessage() {
	if (pending.length > 0) return Promise.resolve(pending.shift());
	return new Promise((resolve) => waiting.push(resolve));
}

function reply(message) {
	process.stdout.write(JSON.stringify(message) + '\n');
}

/** `=Bearer {{$credentials.apiToken}}` -> `Bearer mxg_test_...` (the only expressions used). */
function expression(value, credentials) {
	if (typeof value !== 'string' || !value.startsWith('=')) return value;
	return value.slice(1).replace(/\{\{\s*\$credentials\.(\w+)\s*\}\}/g, (_, key) => String(credentials[key]));
}

function queryString(qs, arrayFormat) {
	const search = new URLSearchParams();
	for (const [key, value] of Object.entries(qs || {})) {
		if (value === undefined || value === null) continue;
		if (Array.isArray(value)) {
			if (arrayFormat !== 'repeat') throw new Error(`harness: arrayFormat ${arrayFormat} not modelled`);
			value.forEach((item) => search.append(key, String(item)));
		} else {
			search.append(key, String(value));
		}
	}
	const text = search.toString();
	return text ? `?${text}` : '';
}

/** n8n's request helper, as far as the nodes use it. */
async function httpRequest(credentials, options, beforeSend) {
	const headers = { ...(options.headers || {}) };
	const auth = credentialType.authenticate.properties.headers;
	for (const [name, value] of Object.entries(auth)) headers[name] = expression(value, credentials);
	if (options.json) headers.Accept = 'application/json';
	const qs = { ...(options.qs || {}) };
	if (beforeSend) await beforeSend(qs);
	const url = `${options.baseURL || ''}${options.url}${queryString(qs, options.arrayFormat)}`;
	const init = { method: options.method || 'GET', headers };
	const hasBody = options.body && typeof options.body === 'object' && Object.keys(options.body).length > 0;
	if (hasBody && init.method !== 'GET') {
		init.body = JSON.stringify(options.body);
		headers['Content-Type'] = 'application/json';
	}
	const response = await fetch(url, init);
	const text = await response.text();
	const type = response.headers.get('content-type') || '';
	const body = text && type.includes('json') ? JSON.parse(text) : text;
	if (!options.ignoreHttpStatusErrors && response.status >= 400) {
		const error = new Error(`Request failed with status code ${response.status}`);
		error.httpCode = String(response.status);
		throw error;
	}
	if (!options.returnFullResponse) return body;
	const headersOut = {};
	response.headers.forEach((value, key) => (headersOut[key.toLowerCase()] = value));
	return { body, headers: headersOut, statusCode: response.status, statusMessage: response.statusText };
}

const NODES = {
	poll: { name: 'MxGuard Trigger', type: 'n8n-nodes-mxguard.mxGuardTrigger' },
	hook: { name: 'MxGuard Instant Trigger', type: 'n8n-nodes-mxguard.mxGuardInstantTrigger' },
	webhook: { name: 'MxGuard Instant Trigger', type: 'n8n-nodes-mxguard.mxGuardInstantTrigger' },
};

function context({ kind, command, staticData, beforeSend }) {
	const parameters = command.parameters || {};
	const credentials = command.credentials;
	const logged = [];
	const parameter = (name, fallback) => {
		if (Object.prototype.hasOwnProperty.call(parameters, name)) return parameters[name];
		if (fallback !== undefined) return fallback;
		return undefined;
	};
	const ctx = {
		logged,
		getNodeParameter:
			kind === 'execute'
				? (name, _itemIndex, fallback) => parameter(name, fallback)
				: (name, fallback) => parameter(name, fallback),
		getWorkflowStaticData: (type) => {
			if (type !== 'node') throw new Error(`harness: static data of type ${type}`);
			return staticData;
		},
		getMode: () => command.mode || 'trigger',
		getNode: () => ({
			...(NODES[kind] || { name: 'MxGuard', type: 'n8n-nodes-mxguard.mxGuard' }),
			typeVersion: 1,
			parameters,
			credentials: { mxGuardApi: { id: command.credential_id || 'cred1', name: 'MxGuard' } },
		}),
		getCredentials: async (type) => {
			if (type !== 'mxGuardApi') throw new Error(`harness: credential type ${type}`);
			return credentials;
		},
		getTimezone: () => command.timezone || 'UTC',
		getWorkflow: () => ({ id: command.workflow_id || 'wf1', name: 'Harness', active: true }),
		getNodeWebhookUrl: (name) => (name === 'default' ? command.webhook_url : undefined),
		getPollBudgetMs: () => 5 * 60 * 1000,
		getInputData: () => [{ json: {} }],
		continueOnFail: () => Boolean(command.continue_on_fail),
		logger: {
			debug: (message) => logged.push({ level: 'debug', message }),
			info: (message) => logged.push({ level: 'info', message }),
			warn: (message) => logged.push({ level: 'warn', message }),
			error: (message) => logged.push({ level: 'error', message }),
		},
		helpers: {
			returnJsonArray: (items) => items.map((json) => ({ json })),
			httpRequestWithAuthentication: async function (type, options) {
				if (type !== 'mxGuardApi') throw new Error(`harness: credential type ${type}`);
				return await httpRequest(credentials, options, beforeSend);
			},
		},
	};
	return ctx;
}

function describeError(error) {
	return { name: error.constructor.name, message: error.message, httpCode: error.httpCode || null };
}

async function poll(command) {
	const statePath = command.state;
	const staticData = fs.existsSync(statePath) ? JSON.parse(fs.readFileSync(statePath, 'utf8')) : {};
	let requested = 0;
	let sent = 0;
	let snapshot = null;
	const beforeSend = async (qs) => {
		requested += 1;
		if (command.crash_after_page && requested === command.crash_after_page) {
			snapshot = JSON.stringify(staticData);
		}
		if (command.crash_after_page && requested === command.crash_after_page + 1) {
			throw new Error('simulated crash');
		}
		if (command.max_pages && requested === command.max_pages + 1) {
			throw new Error('MxGuard answered 429: rate limited (simulated budget)');
		}
		if (command.hook_page && requested === command.hook_page + 1) {
			reply({ event: 'hook', page: command.hook_page });
			const resume = await nextMessage();
			if (!resume || resume.cmd !== 'resume') throw new Error('harness: expected resume');
			if (resume.now_us !== undefined && resume.now_us !== null) clock.nowMicros = () => resume.now_us;
		}
		sent += 1;
	};
	if (command.now_us !== undefined) clock.nowMicros = () => command.now_us;
	const ctx = context({ kind: 'poll', command, staticData, beforeSend });
	const limits = Object.values(EVENTS).map((spec) => [spec.pagination, spec.pagination.maxLimit]);
	if (command.page_size) limits.forEach(([pagination]) => (pagination.maxLimit = command.page_size));
	let result;
	try {
		result = await new MxGuardTrigger().poll.call(ctx);
	} finally {
		limits.forEach(([pagination, maxLimit]) => (pagination.maxLimit = maxLimit));
	}
	const saved = snapshot !== null && requested > command.crash_after_page ? snapshot : JSON.stringify(staticData);
	if (command.mode !== 'manual') fs.writeFileSync(statePath, saved);
	const items = result === null ? [] : result[0].map((entry) => entry.json);
	return { items, returned_null: result === null, requests: sent, logged: ctx.logged };
}

function loadState(statePath) {
	return statePath && fs.existsSync(statePath) ? JSON.parse(fs.readFileSync(statePath, 'utf8')) : {};
}

/** One of the instant trigger's webhook methods, as n8n calls them at (de)activation; the static
 * data is written back as n8n saves it afterwards. */
async function hook(command) {
	const staticData = loadState(command.state);
	const ctx = context({ kind: 'hook', command, staticData });
	const method = new MxGuardInstantTrigger().webhookMethods.default[command.method];
	const result = await method.call(ctx);
	fs.writeFileSync(command.state, JSON.stringify(staticData));
	return { result, staticData, logged: ctx.logged };
}

/** The instant trigger's webhook() for one request, with the raw body n8n's body reader keeps. */
async function webhook(command) {
	const staticData = loadState(command.state);
	const ctx = context({ kind: 'webhook', command, staticData });
	const answered = { status: null, body: null };
	const response = {
		status(code) {
			answered.status = code;
			return response;
		},
		json(body) {
			answered.body = body;
			return response;
		},
	};
	const headers = Object.fromEntries(
		Object.entries(command.headers).map(([name, value]) => [name.toLowerCase(), value]),
	);
	ctx.getRequestObject = () => ({ rawBody: Buffer.from(command.body, 'utf8'), headers });
	ctx.getResponseObject = () => response;
	ctx.getHeaderData = () => headers;
	const result = await new MxGuardInstantTrigger().webhook.call(ctx);
	const items = result.workflowData ? result.workflowData[0].map((entry) => entry.json) : [];
	return {
		// What n8n answers: the node's own response, or 200 for onReceived.
		status: result.noWebhookResponse ? answered.status : 200,
		response: result.noWebhookResponse ? answered.body : (result.webhookResponse ?? null),
		items,
		started: result.workflowData !== undefined,
		logged: ctx.logged,
	};
}

async function execute(command) {
	const ctx = context({ kind: 'execute', command, staticData: {} });
	const [output] = await new MxGuard().execute.call(ctx);
	return { items: output.map((entry) => entry.json), paired: output.map((entry) => entry.pairedItem) };
}

async function loadOptions(command) {
	const nodes = { MxGuardTrigger, MxGuardInstantTrigger, MxGuard };
	const node = new (nodes[command.node] || MxGuard)();
	const ctx = context({ kind: 'loadOptions', command, staticData: {} });
	return { options: await node.methods.loadOptions[command.method].call(ctx) };
}

async function credentialTest(command) {
	const request = credentialType.test.request;
	const options = {
		method: request.method || 'GET',
		baseURL: expression(request.baseURL, command.credentials),
		url: request.url,
		json: true,
		returnFullResponse: true,
		ignoreHttpStatusErrors: true,
	};
	const response = await httpRequest(command.credentials, options);
	return { status: response.statusCode, body: response.body };
}

/** The compiled descriptions, as n8n reads them when it loads the package. */
async function describe() {
	return {
		action: new MxGuard().description,
		trigger: new MxGuardTrigger().description,
		instant: new MxGuardInstantTrigger().description,
		credential: {
			name: credentialType.name,
			properties: credentialType.properties,
			authenticate: credentialType.authenticate,
			test: credentialType.test,
		},
		polling: Object.fromEntries(Object.entries(EVENTS).map(([key, spec]) => [key, spec.polling])),
		loadOptions: {
			action: Object.keys(new MxGuard().methods.loadOptions),
			trigger: Object.keys(new MxGuardTrigger().methods.loadOptions),
			instant: Object.keys(new MxGuardInstantTrigger().methods.loadOptions),
		},
	};
}

/** The package's timestamp parsing and formatting (microseconds, time zones). */
async function time(command) {
	const { formatMicros, parseMicros } = require(path.join(dist, 'nodes/shared/time.js'));
	return {
		parsed: command.texts.map((text) => parseMicros(text, command.timezone) ?? null),
		formatted: (command.micros || []).map((micros) => formatMicros(micros)),
	};
}

const COMMANDS = { poll, execute, loadOptions, credentialTest, describe, time, hook, webhook };

async function main() {
	for (;;) {
		const command = await nextMessage();
		if (command === null) return;
		try {
			reply({ event: 'result', ...(await COMMANDS[command.cmd](command)) });
		} catch (error) {
			reply({ event: 'error', error: describeError(error) });
		}
	}
}

main().catch((error) => {
	process.stderr.write(`${error.stack}\n`);
	process.exit(1);
});
