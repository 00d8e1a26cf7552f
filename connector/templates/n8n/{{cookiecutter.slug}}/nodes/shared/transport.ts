/**
 * Every request to MxGuard goes through `send`: the manifest's request with the inputs filled in,
 * authenticated by the credential (n8n adds the Bearer header), answered with its status so the
 * callers can apply the manifests' repeat rules instead of failing on every 4xx.
 */

import {
	NodeApiError,
	type IDataObject,
	type IExecuteFunctions,
	type IHookFunctions,
	type IHttpRequestOptions,
	type ILoadOptionsFunctions,
	type IN8nHttpFullResponse,
	type IPollFunctions,
	type JsonObject,
} from 'n8n-workflow';

import { clock } from './clock';
import { formatMicros, MICROS } from './time';
import type { Inputs, PaginationSpec, ParamSpec, RequestSpec } from './types';

export const CREDENTIAL_TYPE = 'mxGuardApi';
const DAY_US = 86_400 * MICROS;

export type Caller = IExecuteFunctions | ILoadOptionsFunctions | IPollFunctions | IHookFunctions;

export interface Answer {
	status: number;
	body: unknown;
	headers: Record<string, unknown>;
}

export function isEmpty(value: unknown): boolean {
	return (
		value === undefined ||
		value === null ||
		value === '' ||
		(Array.isArray(value) && value.length === 0)
	);
}

/** The value of one request parameter: an input, "now minus an input's days", or a constant. */
export function resolve(param: ParamSpec, inputs: Inputs): unknown {
	if (param.input !== undefined) return inputs[param.input];
	if (param.daysAgoInput !== undefined) {
		return formatMicros(clock.nowMicros() - Number(inputs[param.daysAgoInput]) * DAY_US);
	}
	return param.constant;
}

/**
 * `request` sent to the credential's API (`baseUrl`), or to `baseUrl` when given (the bridge,
 * which takes the same token).
 */
export async function send(
	ctx: Caller,
	request: RequestSpec,
	inputs: Inputs,
	extra: Record<string, unknown> = {},
	baseUrl?: string,
): Promise<Answer> {
	const credentials = baseUrl === undefined ? await ctx.getCredentials(CREDENTIAL_TYPE) : { baseUrl };
	const path = request.path.replace(/\{(\w+)\}/g, (_, key: string) =>
		encodeURIComponent(String(inputs[key])),
	);
	const query: Record<string, unknown> = {};
	for (const param of request.query) query[param.name] = resolve(param, inputs);
	Object.assign(query, extra);
	const options: IHttpRequestOptions = {
		method: request.method,
		baseURL: String(credentials.baseUrl).replace(/\/+$/, ''),
		url: path,
		qs: Object.fromEntries(Object.entries(query).filter(([, value]) => !isEmpty(value))) as IDataObject,
		arrayFormat: 'repeat',
		json: true,
		returnFullResponse: true,
		ignoreHttpStatusErrors: true,
	};
	if (request.method === 'POST' || request.method === 'PATCH') {
		const body: Record<string, unknown> = {};
		for (const param of request.body) body[param.name] = resolve(param, inputs);
		options.body = Object.fromEntries(
			Object.entries(body).filter(([, value]) => value !== undefined && value !== null),
		) as IDataObject;
	}
	const response = (await ctx.helpers.httpRequestWithAuthentication.call(
		ctx,
		CREDENTIAL_TYPE,
		options,
	)) as IN8nHttpFullResponse;
	return { status: response.statusCode, body: response.body, headers: response.headers ?? {} };
}

export function isOk(answer: Answer): boolean {
	return answer.status >= 200 && answer.status < 400;
}

/**
 * An answer the caller has no rule for, as the error n8n shows with the API's own message;
 * `who` names the server that answered (the bridge speaks the same error shape).
 */
export function apiError(ctx: Caller, answer: Answer, itemIndex?: number, who = 'MxGuard'): NodeApiError {
	const body = (typeof answer.body === 'object' && answer.body !== null ? answer.body : {}) as JsonObject;
	const detail = (body.error as JsonObject | undefined)?.message;
	return new NodeApiError(ctx.getNode(), body, {
		message: `${who} answered ${answer.status}${detail ? `: ${String(detail)}` : ''}`,
		httpCode: String(answer.status),
		itemIndex,
	});
}

/** One page of a list: its items, and the cursor of the next page when there is one. */
export function pageOf(
	body: unknown,
	pagination: PaginationSpec,
): { items: Record<string, unknown>[]; next: string | undefined } {
	const page = body as Record<string, unknown>;
	const items = (page[pagination.items] ?? []) as Record<string, unknown>[];
	const next = page[pagination.hasMore] ? (page[pagination.nextCursor] as string) : undefined;
	return { items, next: next ?? undefined };
}
