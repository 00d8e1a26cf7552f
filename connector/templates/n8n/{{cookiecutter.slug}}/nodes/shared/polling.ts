/**
 * The trigger's poll in n8n terms: the cursor lives in the node's static data, pages come from the
 * manifest's list request in ascending order, and a poll stops early, keeping what it has, when
 * the time or rate budget runs low. When a poll returns items, n8n saves the static data and
 * starts the execution as two separate writes in its default mode (a crash between them skips or
 * repeats the poll's items); with its durable poll cursors, in one transaction.
 */

import type { IDataObject, IPollFunctions } from 'n8n-workflow';

import { clock } from './clock';
import { copyState, type CursorState } from './cursor';
import { poll, type CursorStore, type Page, type PollReport } from './poller';
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
		load: () => (data.key === key && data.cursor ? copyState(data.cursor as unknown as CursorState) : undefined),
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
): Promise<{ items: Item[]; report: PollReport }> {
	const now = clock.nowMicros();
	const budgetMs = pollBudgetMs(ctx);
	let remaining: number | undefined;
	const items: Item[] = [];
	const report = await poll<Item>(
		{
			fetch: async (since, pageCursor) => {
				const fetched = await fetchPage(ctx, spec, filters, {
					[spec.polling.orderParam]: 'asc',
					[spec.polling.sinceParam]: formatMicros(since),
					[spec.pagination.cursorParam]: pageCursor,
				});
				remaining = fetched.remaining;
				return fetched.page;
			},
			keyOf: (item) => itemKey(spec, item),
			store: staticStore(ctx.getWorkflowStaticData('node'), cursorKey),
			policy: { latenessBoundS: spec.polling.latenessBoundS, sweepIntervalS: spec.polling.lookBackEveryS },
			now,
			startUs,
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
