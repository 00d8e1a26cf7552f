/**
 * The trigger's poll in n8n terms: the cursor lives in the node's static data, pages come from the
 * manifest's list request in ascending order, and a poll stops early, keeping what it has, when
 * the trigger's hourly budget, n8n's time budget or the token's rate window runs low. When a poll
 * returns items, n8n saves the static data and starts the execution as two separate writes in its
 * default mode (a crash between them skips or repeats the poll's items); with its durable poll
 * cursors, in one transaction.
 */

import { NodeApiError, type IDataObject, type IPollFunctions } from 'n8n-workflow';

import { clock } from './clock';
import { copyState, type CursorPolicy, type StoredState } from './cursor';
import { defaultBudget, poll, type CursorStore, type Page, type PollReport } from './poller';
import { parseMicros, formatMicros } from './time';
import { apiError, isOk, pageOf, send } from './transport';
import type { Inputs, OperationSpec, PaginationSpec, PollingSpec } from './types';

export interface EventSpec extends OperationSpec {
	pagination: PaginationSpec;
	polling: PollingSpec;
}

type Item = Record<string, unknown>;

/** Stop before the API's own limit: other workflows may share the token's 600 requests an hour. */
const RATE_RESERVE = 3;

/**
 * The cursor in static data, tagged with the question it answers (event, filters, credential):
 * a node edited to ask something else starts afresh instead of reusing a cursor that lies.
 */
export function staticStore(data: IDataObject, key: string): CursorStore {
	return {
		load: () => (data.key === key && data.cursor ? copyState(data.cursor as unknown as StoredState) : undefined),
		commit: (state) => {
			data.key = key;
			data.cursor = copyState(state) as unknown as IDataObject;
		},
	};
}

function itemKey(spec: EventSpec, item: Item): [number, string] {
	const stamp = parseMicros(String(item[spec.polling.timeField]));
	if (stamp === undefined) {
		throw new Error(`item ${String(item[spec.polling.idField])} has no valid ${spec.polling.timeField}`);
	}
	return [stamp, String(item[spec.polling.idField])];
}

async function fetchPage(
	ctx: IPollFunctions,
	spec: EventSpec,
	filters: Inputs,
	extra: Record<string, unknown>,
): Promise<{ page: Page<Item>; remaining: number | undefined }> {
	const answer = await send(ctx, spec.request, filters, {
		[spec.pagination.limitParam]: spec.pagination.maxLimit,
		...extra,
	});
	if (!isOk(answer)) throw apiError(ctx, answer);
	const remaining = Number(answer.headers['x-ratelimit-remaining']);
	return { page: pageOf(answer.body, spec.pagination), remaining: Number.isNaN(remaining) ? undefined : remaining };
}

/** The cursor's policy: the manifest's bound and look-back interval, the Python cursor's constants. */
export function policyOf(polling: PollingSpec): CursorPolicy {
	return {
		latenessBoundS: polling.latenessBoundS,
		sweepIntervalS: polling.lookBackEveryS,
		skewMarginS: polling.skewMarginS,
		freshOverlapS: polling.freshOverlapS,
		pageFill: polling.pageFill,
		rateWeight: polling.rateWeight,
		rateStep: polling.rateStep,
		burstFactor: polling.burstFactor,
		defaultPollIntervalS: polling.defaultPollIntervalS,
		minPollIntervalS: polling.minPollIntervalS,
	};
}

/** The trigger's budget when "Requests per Hour" is empty: 500 of the token's 600. */
export function defaultRequestsPerHour(polling: PollingSpec): number {
	return defaultBudget(polling.tokenPerHour, polling.actionReserve);
}

/** A refusal as invalid (400, 422): what the API answers to a page cursor it no longer takes. */
function refused(error: unknown): boolean {
	return error instanceof NodeApiError && (error.httpCode === '400' || error.httpCode === '422');
}

/** The newest items, newest first, without reading or moving the cursor (manual runs). */
export async function newest(ctx: IPollFunctions, spec: EventSpec, filters: Inputs, limit: number): Promise<Item[]> {
	const { page } = await fetchPage(ctx, spec, filters, {
		[spec.pagination.limitParam]: limit,
		[spec.polling.orderParam]: 'desc',
	});
	return page.items.slice(0, limit);
}

function pollBudgetMs(ctx: IPollFunctions): number | undefined {
	return typeof ctx.getPollBudgetMs === 'function' ? ctx.getPollBudgetMs() : undefined;
}

/** One poll: the new items in ascending (timestamp, id) order, and what happened. */
export async function pollEvent(
	ctx: IPollFunctions,
	spec: EventSpec,
	filters: Inputs,
	cursorKey: string,
	startUs: number | undefined,
	budgetPerHour: number,
): Promise<{ items: Item[]; report: PollReport }> {
	const now = clock.nowMicros();
	const budgetMs = pollBudgetMs(ctx);
	let remaining: number | undefined;
	const items: Item[] = [];
	const report = await poll<Item>(
		{
			fetch: async (read, pageCursor) => {
				const fetched = await fetchPage(ctx, spec, filters, {
					[spec.polling.orderParam]: 'asc',
					[spec.polling.sinceParam]: formatMicros(read.since),
					[spec.polling.untilParam]: read.until === undefined ? undefined : formatMicros(read.until),
					[spec.pagination.cursorParam]: pageCursor,
				});
				remaining = fetched.remaining;
				return fetched.page;
			},
			keyOf: (item) => itemKey(spec, item),
			store: staticStore(ctx.getWorkflowStaticData('node'), cursorKey),
			policy: policyOf(spec.polling),
			now,
			clock: () => clock.nowMicros(),
			pageSize: spec.pagination.maxLimit,
			budgetPerHour,
			startUs,
			refused,
			shouldStop: () => {
				if (remaining !== undefined && remaining < RATE_RESERVE) {
					return `rate budget low (${remaining} requests left)`;
				}
				if (budgetMs !== undefined && (clock.nowMicros() - now) / 1000 > budgetMs) {
					return 'time budget of the poll used up';
				}
				return undefined;
			},
		},
		(fresh) => items.push(...fresh),
	);
	return { items, report };
}

function duration(seconds: number): string {
	return seconds < 120 ? `${Math.round(seconds)} s` : `${Math.round(seconds / 60)} min`;
}

/** One line on a poll, as the Python follower prints it: reads, budget, mode, what it costs. */
export function describeReport(event: string, report: PollReport): string {
	let pages = `${report.pages} page(s)`;
	if (Number.isFinite(report.allowance)) {
		pages +=
			` of ${report.allowance} allowed (budget ${Math.round(report.budgetPerHour)}/h, ` +
			`${report.spentLastHour} spent in the last hour)`;
	}
	const parts = [`${event}: ${report.emitted} new`, pages];
	if (report.reads.length > 0) parts.push(`reads: ${report.reads.join(', ')}`);
	if (report.firstPoll) parts.push('first poll: cursor created');
	if (report.swept) parts.push('looked back for late items');
	if (report.stoppedBecause) parts.push(`stopped early (${report.stoppedBecause}); the next poll resumes`);
	if (report.stoppedBecause === 'budget' && report.budgetFreesInS > 0) {
		parts.push(`the budget frees a request in ${duration(report.budgetFreesInS)}`);
	}
	if (report.mode === 'batch') {
		parts.push(
			`batch mode: live reads would need more than the budget of ${Math.round(report.budgetPerHour)}/h, ` +
				'so each stretch is read once after it settled',
		);
	}
	if (report.behindPerHourS > 0) {
		parts.push(
			`the traffic needs ${Math.round(report.neededPerHour)} requests/h: falling behind by ` +
				`${duration(report.behindPerHourS)} an hour`,
		);
	}
	return parts.join(', ');
}

/** Worth n8n's log at info level (the rest is debug): the trigger is held back. */
export function noteworthy(report: PollReport): boolean {
	return report.stoppedBecause !== undefined || report.mode === 'batch' || report.behindPerHourS > 0;
}
