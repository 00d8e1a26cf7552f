/**
 * Runs one action from its manifest, step for step as the reference interpreter
 * (`actions/perform.py`): n8n retries failed steps and people re-run workflows, so each action
 * names the error status a repeat produces and what it answers then (`actions/repeat.py`): a 409
 * on "add" returns the existing object with outcome 'existing', a 404 on "remove" reports
 * 'already_absent', a search that finds nothing is empty.
 */

import { NodeApiError, type IDataObject, type JsonObject } from 'n8n-workflow';

import { apiError, isOk, pageOf, resolve, send, type Caller } from './transport';
import type {
	CurrentSpec,
	ExistingSpec,
	Inputs,
	OperationSpec,
	ParamSpec,
	RepeatSpec,
	RequestSpec,
} from './types';

type Result = IDataObject;

const NOT_FOUND = 'MxGuard reported a conflict, and the existing object was not found';

function fromParams(params: ParamSpec[], inputs: Inputs): Result {
	const result: Result = {};
	for (const param of params) result[param.name] = resolve(param, inputs) as IDataObject[string];
	return result;
}

function withOutcome(result: Result, outcome: string | undefined): Result {
	return outcome ? { ...result, outcome } : { ...result };
}

/** Equality as Python's `==` on decoded JSON: null and a missing value alike, lists and objects
 * by their content. */
function equal(a: unknown, b: unknown): boolean {
	if (a === undefined || a === null || b === undefined || b === null) {
		return (a ?? null) === (b ?? null);
	}
	if (Array.isArray(a) || Array.isArray(b)) {
		return (
			Array.isArray(a) &&
			Array.isArray(b) &&
			a.length === b.length &&
			a.every((item, index) => equal(item, b[index]))
		);
	}
	if (typeof a === 'object' && typeof b === 'object') {
		const left = a as Record<string, unknown>;
		const right = b as Record<string, unknown>;
		const keys = Object.keys(left);
		return (
			keys.length === Object.keys(right).length &&
			keys.every((key) => key in right && equal(left[key], right[key]))
		);
	}
	return a === b;
}

/** A message template (`{domain} already exists`) filled in; unknown names stay as written. */
function fill(template: string, values: Record<string, unknown>): string {
	return template.replace(/\{(\w+)\}/g, (written, name: string) =>
		name in values ? String(values[name]) : written,
	);
}

/** The action's result: one object, or a list for a search (empty when nothing was found). */
export async function runAction(
	ctx: Caller,
	op: OperationSpec,
	inputs: Inputs,
	itemIndex: number,
): Promise<Result | Result[]> {
	if (op.pagination !== undefined) return await searchPages(ctx, op, inputs, itemIndex);
	const answer = await send(ctx, op.request, inputs);
	if (isOk(answer)) {
		const hasBody = typeof answer.body === 'object' && answer.body !== null;
		const result = hasBody ? (answer.body as Result) : fromParams(op.successResult, inputs);
		if (op.kind === 'search') return [result];
		return withOutcome(result, op.successOutcome);
	}
	if (op.repeat === undefined || answer.status !== op.repeat.status) {
		throw apiError(ctx, answer, itemIndex);
	}
	return await onRepeat(ctx, op.repeat, inputs, itemIndex);
}

/** What the rule answers once its status came back. */
async function onRepeat(
	ctx: Caller,
	rule: RepeatSpec,
	inputs: Inputs,
	itemIndex: number,
): Promise<Result | Result[]> {
	switch (rule.shape) {
		case 'empty':
			return [];
		case 'absent':
			if (rule.check !== undefined) await lookUp(ctx, rule.check, inputs, itemIndex);
			return withOutcome(fromParams(rule.result, inputs), rule.outcome);
		case 'existing': {
			const found = await existingObject(ctx, rule, inputs, itemIndex);
			const differs = Object.entries(rule.same).some(
				([field, input]) => !equal(found[field], inputs[input]),
			);
			if (differs) throw conflict(ctx, fill(rule.error, { ...inputs, ...found }), itemIndex);
			return withOutcome(found, rule.outcome);
		}
		case 'current':
			return await currentObject(ctx, rule, inputs, itemIndex);
		default: {
			const never: never = rule;
			throw new Error(`unknown repeat rule ${JSON.stringify(never)}`);
		}
	}
}

/** The object a conflict was about: the lookup's answer, or the matching item of its list. */
async function existingObject(
	ctx: Caller,
	rule: ExistingSpec,
	inputs: Inputs,
	itemIndex: number,
): Promise<Result> {
	const found = await lookUp(ctx, rule.lookup, inputs, itemIndex);
	if (rule.findIn === undefined) return found;
	const list = (found[rule.findIn] ?? []) as Result[];
	const item = list.find((candidate) =>
		Object.entries(rule.match).every(([field, input]) => equal(candidate[field], inputs[input])),
	);
	if (item === undefined) throw conflict(ctx, NOT_FOUND, itemIndex);
	return { ...item };
}

/** The object, when it is in the target state already; a conflict in any other. */
async function currentObject(
	ctx: Caller,
	rule: CurrentSpec,
	inputs: Inputs,
	itemIndex: number,
): Promise<Result> {
	const found = await lookUp(ctx, rule.lookup, inputs, itemIndex);
	if (!equal(found[rule.field], rule.value)) {
		throw conflict(ctx, fill(rule.error, { ...inputs, ...found }), itemIndex);
	}
	return withOutcome(found, rule.outcome);
}

/** The decoded body of a request that must succeed: its own error is the answer otherwise. */
async function lookUp(
	ctx: Caller,
	request: RequestSpec,
	inputs: Inputs,
	itemIndex: number,
): Promise<Result> {
	const answer = await send(ctx, request, inputs);
	if (!isOk(answer)) throw apiError(ctx, answer, itemIndex);
	return answer.body as Result;
}

function conflict(ctx: Caller, message: string, itemIndex: number): NodeApiError {
	const body: JsonObject = { error: { type: 'conflict', message } };
	return new NodeApiError(ctx.getNode(), body, { message, httpCode: '409', itemIndex });
}

/** A search over pages: keep items matching the client-side filters, up to the result limit. */
async function searchPages(
	ctx: Caller,
	op: OperationSpec,
	inputs: Inputs,
	itemIndex: number,
): Promise<Result[]> {
	const pagination = op.pagination!;
	const found: Result[] = [];
	const cap = Number(inputs[op.resultLimitInput ?? ''] ?? 0);
	let cursor: string | undefined;
	for (let page = 0; page < (op.maxPages ?? 1); page++) {
		const answer = await send(ctx, op.request, inputs, { [pagination.cursorParam]: cursor });
		if (!isOk(answer)) throw apiError(ctx, answer, itemIndex);
		const { items, next } = pageOf(answer.body, pagination);
		for (const item of items) {
			const matches = Object.entries(op.clientFilters).every(
				([field, input]) =>
					inputs[input] === undefined ||
					String(item[field]).toLowerCase().includes(String(inputs[input]).toLowerCase()),
			);
			if (matches) found.push(item as Result);
		}
		if (next === undefined || (cap && found.length >= cap)) break;
		cursor = next;
	}
	return cap ? found.slice(0, cap) : found;
}
