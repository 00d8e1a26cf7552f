/**
 * Runs one action from its manifest, with the manifests' reference semantics
 * (`tests/manifest_runner.py`): n8n retries failed steps and people re-run workflows, so each
 * action says what a repeat answers (a 409 on "add" returns the existing object with outcome
 * 'existing', a 404 on "remove" reports 'already_absent', a search that finds nothing is empty).
 */

import { NodeApiError, type IDataObject, type JsonObject } from 'n8n-workflow';

import { apiError, isOk, pageOf, resolve, send, type Caller } from './transport';
import type { Inputs, OperationSpec, ParamSpec, StatusRuleSpec } from './types';

type Result = IDataObject;

function fromParams(params: ParamSpec[], inputs: Inputs): Result {
	const result: Result = {};
	for (const param of params) result[param.name] = resolve(param, inputs) as IDataObject[string];
	return result;
}

function withOutcome(result: Result, outcome: string | undefined): Result {
	return outcome ? { ...result, outcome } : result;
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
	const rule = op.statusRules.find((candidate) => candidate.status === answer.status);
	if (rule === undefined) throw apiError(ctx, answer, itemIndex);
	if (rule.empty) return [];
	return await applyRule(ctx, rule, inputs, itemIndex);
}

async function applyRule(
	ctx: Caller,
	rule: StatusRuleSpec,
	inputs: Inputs,
	itemIndex: number,
): Promise<Result> {
	let found: Result | undefined;
	if (rule.lookup !== undefined) {
		const looked = await send(ctx, rule.lookup, inputs);
		if (!isOk(looked)) throw apiError(ctx, looked, itemIndex);
		found = looked.body as Result;
		if (rule.findIn !== undefined) {
			const list = (found[rule.findIn] ?? []) as Result[];
			found = list.find((item) =>
				Object.entries(rule.match).every(([field, input]) => item[field] === inputs[input]),
			);
			if (found === undefined) {
				throw conflict(ctx, 'conflict, and the existing object was not found', itemIndex);
			}
		}
	}
	for (const [field, param] of Object.entries(rule.acceptIf)) {
		if (found?.[field] !== resolve(param, inputs)) {
			const names: Record<string, unknown> = { ...inputs, ...found };
			const message = (rule.error ?? 'conflict').replace(/\{(\w+)\}/g, (_, name: string) =>
				String(names[name]),
			);
			throw conflict(ctx, message, itemIndex);
		}
	}
	const result = found !== undefined && rule.result.length === 0 ? { ...found } : fromParams(rule.result, inputs);
	return withOutcome(result, rule.outcome);
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
