/**
 * The instant trigger's side of a bridge (`mxguard bridge serve`): subscribe this node's webhook
 * URL to an event, find and delete that subscription, and check what the bridge delivers.
 *
 * The bridge takes the credential's token (n8n adds the same Bearer header as for the API) at the
 * credential's bridge URL. n8n generates the signing secret; the subscription's id and the secret
 * live in the node's static data, which n8n saves after activation and deactivation. Every
 * delivery is checked as the Standard Webhooks spec says before anything is emitted: an HMAC-SHA256
 * of `{id}.{timestamp}.{raw body}`, and a timestamp within the manifests' tolerance of this clock.
 */

import { createHmac, randomBytes, timingSafeEqual } from 'crypto';
import {
	NodeOperationError,
	type IDataObject,
	type IHookFunctions,
	type IWebhookFunctions,
} from 'n8n-workflow';

import { BRIDGE } from '../manifest';
import { prepare } from './inputs';
import { apiError, CREDENTIAL_TYPE, isOk, send } from './transport';
import type { Inputs, InstantSpec, SignatureSpec } from './types';

const WHO = 'The bridge';
/** HMAC-SHA256's output size: a key with fewer random bytes than that would weaken the signature. */
const KEY_BYTES = 32;
const NOT_FOUND = 404;

type Headers = Record<string, string | string[] | undefined>;

/** What the node keeps in its static data while its workflow is active. */
interface Stored {
	subscriptionId: string;
	secret: string;
	event: string;
}

function stored(ctx: IHookFunctions | IWebhookFunctions): Stored | undefined {
	const data = ctx.getWorkflowStaticData('node');
	const { subscriptionId, secret, event } = data;
	if (typeof subscriptionId !== 'string' || typeof secret !== 'string' || typeof event !== 'string') {
		return undefined;
	}
	return { subscriptionId, secret, event };
}

/** The name a subscription gives the value of one of the manifests' inputs (`event`...). */
function fieldOf(input: string): string {
	return BRIDGE.subscribe.body.find((param) => param.input === input)?.name ?? input;
}

/** The credential's bridge URL, without a final '/': a clear error, before any request, when the
 * credential has none or it is not an http(s) address. */
export async function bridgeUrl(ctx: IHookFunctions): Promise<string> {
	const credentials = await ctx.getCredentials(CREDENTIAL_TYPE);
	const { credential, label, pattern } = BRIDGE.urlField;
	const named = ctx.getNode().credentials?.[CREDENTIAL_TYPE]?.name;
	const which = named ? `The credential '${named}'` : 'The credential';
	const url = String(credentials[credential] ?? '').trim();
	if (url === '') {
		throw new NodeOperationError(ctx.getNode(), `${which} has no ${label}`, {
			description:
				`An instant trigger receives its items from a bridge: set the bridge's address as ${label} ` +
				'in the credential, or use the polling trigger, which needs none.',
		});
	}
	if (!new RegExp(pattern).test(url)) {
		throw new NodeOperationError(ctx.getNode(), `${which}: ${label} is not an http(s) address`, {
			description: 'Give the address as https://host[:port][/path], without user, query or fragment.',
		});
	}
	return url.replace(/\/+$/, '');
}

function webhookUrl(ctx: IHookFunctions): string {
	const url = ctx.getNodeWebhookUrl('default');
	if (!url) throw new NodeOperationError(ctx.getNode(), 'n8n gave this node no webhook URL');
	return url;
}

/** The event's filters from the node's parameters, checked as the polling trigger checks them. */
function filtersOf(ctx: IHookFunctions, instant: InstantSpec): Inputs {
	const raw = Object.fromEntries(
		instant.inputs.map((field) => [field.key, ctx.getNodeParameter(field.param, undefined)]),
	);
	try {
		return prepare(instant.inputs, raw);
	} catch (error) {
		throw new NodeOperationError(ctx.getNode(), error as Error);
	}
}

async function subscriptionsTo(ctx: IHookFunctions, base: string, target: string): Promise<IDataObject[]> {
	const answer = await send(ctx, BRIDGE.find, { target_url: target }, {}, base);
	if (!isOk(answer)) throw apiError(ctx, answer, undefined, WHO);
	const items = (answer.body as IDataObject)[BRIDGE.items];
	return Array.isArray(items) ? (items as IDataObject[]) : [];
}

/** Delete one subscription; one the bridge no longer knows counts as deleted. */
async function remove(ctx: IHookFunctions, base: string, id: string): Promise<void> {
	const answer = await send(ctx, BRIDGE.unsubscribe, { id }, {}, base);
	if (!isOk(answer) && answer.status !== NOT_FOUND) throw apiError(ctx, answer, undefined, WHO);
}

/** `checkExists`: the subscription this node made, for its event, to its URL, is on the bridge. */
export async function subscriptionExists(ctx: IHookFunctions, instant: InstantSpec): Promise<boolean> {
	const base = await bridgeUrl(ctx);
	const mine = stored(ctx);
	if (mine === undefined) return false;
	const found = await subscriptionsTo(ctx, base, webhookUrl(ctx));
	const event = fieldOf('event');
	return found.some((item) => item[BRIDGE.idField] === mine.subscriptionId && item[event] === instant.event);
}

/**
 * `create`: subscribe this node's webhook URL with a secret generated here. Subscriptions to the
 * same URL left by an earlier activation are deleted first: the node holds no secret for them,
 * so everything they would deliver would be refused.
 */
export async function subscribe(ctx: IHookFunctions, instant: InstantSpec): Promise<void> {
	const base = await bridgeUrl(ctx);
	const target = webhookUrl(ctx);
	const filters = filtersOf(ctx, instant);
	for (const stale of await subscriptionsTo(ctx, base, target)) {
		await remove(ctx, base, String(stale[BRIDGE.idField]));
	}
	const secret = newSecret(BRIDGE.signature);
	const inputs = {
		event: instant.event,
		filters,
		target_url: target,
		secret,
		description: `n8n workflow ${ctx.getWorkflow().id ?? ''}, node '${ctx.getNode().name}'`,
	};
	const answer = await send(ctx, BRIDGE.subscribe, inputs, {}, base);
	if (!isOk(answer)) throw apiError(ctx, answer, undefined, WHO);
	const made = answer.body as IDataObject;
	const data = ctx.getWorkflowStaticData('node');
	data.subscriptionId = String(made[BRIDGE.idField]);
	data.secret = typeof made[BRIDGE.secretField] === 'string' ? made[BRIDGE.secretField] : secret;
	data.event = instant.event;
}

/** `delete`: remove the node's subscription (gone already counts) and forget it. */
export async function unsubscribe(ctx: IHookFunctions): Promise<void> {
	const mine = stored(ctx);
	if (mine !== undefined) await remove(ctx, await bridgeUrl(ctx), mine.subscriptionId);
	const data = ctx.getWorkflowStaticData('node');
	delete data.subscriptionId;
	delete data.secret;
	delete data.event;
}

/** A new signing secret: the prefix and the base64 of random bytes (the spec's form). */
export function newSecret(signature: SignatureSpec): string {
	const bytes = Math.max(signature.secretMinBytes, KEY_BYTES);
	return signature.secretPrefix + randomBytes(bytes).toString('base64');
}

function header(headers: Headers, name: string): string {
	const value = headers[name.toLowerCase()];
	return (Array.isArray(value) ? (value[0] ?? '') : (value ?? '')).trim();
}

/**
 * Why a delivery cannot be trusted, or undefined when it can: its headers, its timestamp within
 * the tolerance of `nowS`, and one `v1` signature equal (in constant time) to the HMAC of
 * `{id}.{timestamp}.{body}` keyed by the secret's base64 part. The reasons never quote a secret
 * or the signature that would have matched.
 */
export function signatureProblem(
	signature: SignatureSpec,
	secret: string,
	body: Buffer,
	headers: Headers,
	nowS: number,
): string | undefined {
	const id = header(headers, signature.idHeader);
	const stamp = header(headers, signature.timestampHeader);
	const signatures = header(headers, signature.signatureHeader);
	if (!id || !stamp || !signatures) {
		return `missing header(s): ${[signature.idHeader, signature.timestampHeader, signature.signatureHeader].join(', ')}`;
	}
	if (!/^\d{1,12}$/.test(stamp)) return `${signature.timestampHeader} is not a number of seconds`;
	if (Math.abs(nowS - Number(stamp)) > signature.toleranceS) {
		return `${signature.timestampHeader} is more than ${signature.toleranceS} s from this clock`;
	}
	const key = Buffer.from(secret.slice(signature.secretPrefix.length), 'base64');
	const expected = createHmac('sha256', key).update(`${id}.${stamp}.`).update(body).digest();
	const matches = signatures.split(/\s+/).some((versioned) => {
		const comma = versioned.indexOf(',');
		if (comma < 0 || versioned.slice(0, comma) !== 'v1') return false;
		const given = Buffer.from(versioned.slice(comma + 1), 'base64');
		return given.length === expected.length && timingSafeEqual(given, expected);
	});
	return matches ? undefined : 'no v1 signature matches';
}

export type Delivery =
	| { trusted: false; problem: string }
	| { trusted: true; event: unknown; item: IDataObject; mine: string };

/** The request n8n received, checked against the node's secret, then parsed. */
export function readDelivery(ctx: IWebhookFunctions, nowS: number): Delivery {
	const mine = stored(ctx);
	if (mine === undefined) return { trusted: false, problem: 'this node holds no subscription' };
	const raw = ctx.getRequestObject().rawBody;
	if (!Buffer.isBuffer(raw)) return { trusted: false, problem: 'no request body' };
	const problem = signatureProblem(BRIDGE.signature, mine.secret, raw, ctx.getHeaderData() as Headers, nowS);
	if (problem !== undefined) return { trusted: false, problem };
	let body: IDataObject;
	try {
		body = JSON.parse(raw.toString('utf8')) as IDataObject;
	} catch {
		return { trusted: false, problem: 'the signed body is not JSON' };
	}
	const item = body?.[BRIDGE.payload.itemField];
	if (typeof item !== 'object' || item === null || Array.isArray(item)) {
		return { trusted: false, problem: `the signed body has no ${BRIDGE.payload.itemField} object` };
	}
	return { trusted: true, event: body[BRIDGE.payload.eventField], item: item as IDataObject, mine: mine.event };
}
