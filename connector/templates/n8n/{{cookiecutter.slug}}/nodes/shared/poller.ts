/**
 * One poll: the cursor's reads one after the other (`Cursor.nextRead`), each page by page in
 * ascending order, what is new handed to the sink, the cursor committed per page; within the
 * trigger's hourly budget. The port of `triggers/poller.py`.
 *
 * One difference, because of how n8n delivers: a poll's items reach the workflow only when
 * `poll()` returns, and a poll that throws delivers nothing. So a request after the poll's first
 * that fails ends the poll like a low budget does: the pages before it are delivered and
 * committed, and the next poll resumes there. A failing first request throws with nothing
 * committed.
 */

import {
	copyState,
	Cursor,
	emits,
	settleDelayUs,
	startingAt,
	type CursorPolicy,
	type CursorState,
	type Mode,
	type PollPlan,
	type ReadKind,
} from './cursor';
import { MICROS } from './time';

export interface Page<T> {
	items: T[];
	/** The cursor of the next page; undefined on the last page. */
	next: string | undefined;
}

export interface CursorStore {
	load(): CursorState | undefined;
	/** Store a copy of the state: later changes to it must not leak in before their commit. */
	commit(state: CursorState): void;
}

export interface PollerOptions<T> {
	/** One page of a read: `since` inclusive, `until` exclusive (undefined: to the newest). */
	fetch: (read: Pick<PollPlan, 'since' | 'until'>, pageCursor: string | undefined) => Promise<Page<T>>;
	/** (timestamp in microseconds, id) of an item: the order in which items come out. */
	keyOf: (item: T) => [number, string];
	store: CursorStore;
	policy: CursorPolicy;
	/** When the poll began. */
	now: number;
	/** The clock during the poll (each request and each read after the first read it again). */
	clock: () => number;
	/** Items a page the fetch asks for: the cursor plans its reads in pages of this size. */
	pageSize: number;
	/** This trigger's share of the token's requests an hour (Infinity: no limit). */
	budgetPerHour: number;
	/** Backfill: where a trigger without a cursor starts (default: now, after priming). */
	startUs?: number;
	/** Asked after every page of an emitting read but its last: a reason to stop now. */
	shouldStop?: () => string | undefined;
	/** Whether an error is the API refusing a request as invalid, as it refuses a stale page cursor. */
	refused?: (error: unknown) => boolean;
}

export interface PollReport {
	emitted: number;
	pages: number;
	/** False when the poll stopped before the last page. */
	complete: boolean;
	stoppedBecause?: string;
	/** It read settled time again (for late items). */
	swept: boolean;
	firstPoll: boolean;
	/** The reads it made, in order. */
	reads: ReadKind[];
	mode: Mode;
	budgetPerHour: number;
	/** Requests this poll was allowed (Infinity: the priming read at activation). */
	allowance: number;
	/** Requests made in the hour before the poll began, this trigger's own. */
	spentLastHour: number;
	/** What the measured traffic needs in the chosen mode; above the budget, it falls behind. */
	neededPerHour: number;
	/** Seconds of traffic the trigger falls further behind each hour at this rate and budget. */
	behindPerHourS: number;
	/** When it stopped for the budget: seconds until the hour's budget allows a request. */
	budgetFreesInS: number;
}

/** Make this poll's reads, within the budget; the sink gets each page's new items. */
export async function poll<T>(options: PollerOptions<T>, sink: (items: T[]) => void): Promise<PollReport> {
	const { now, store, policy, pageSize, budgetPerHour } = options;
	const report: PollReport = {
		emitted: 0,
		pages: 0,
		complete: false,
		swept: false,
		firstPoll: false,
		reads: [],
		mode: 'live',
		budgetPerHour,
		allowance: Infinity,
		spentLastHour: 0,
		neededPerHour: 0,
		behindPerHourS: 0,
		budgetFreesInS: 0,
	};
	let state = store.load();
	let prime: PollPlan | undefined;
	if (state === undefined) {
		report.firstPoll = true;
		if (options.startUs === undefined) {
			state = startingAt(now - settleDelayUs(policy));
			prime = { since: state.floor, kind: 'prime', started: now };
		} else {
			state = startingAt(options.startUs);
		}
	}
	const cursor = new Cursor(copyState(state), policy);
	const traffic = cursor.traffic(now, pageSize, budgetPerHour);
	report.mode = traffic.mode(policy);
	report.neededPerHour = report.mode === 'live' ? traffic.liveCostPerHour(policy) : traffic.batchCostPerHour();
	report.behindPerHourS = report.mode === 'batch' ? traffic.behindPerHourS() : 0;
	report.spentLastHour = cursor.spentLastHour(now);
	const allowance = prime ? Infinity : cursor.allowance(now, budgetPerHour);
	report.allowance = allowance;
	let plan = prime ?? cursor.nextRead(now, pageSize, budgetPerHour);
	while (plan !== undefined) {
		if (report.pages >= allowance) {
			report.stoppedBecause = 'budget';
			break;
		}
		report.reads.push(plan.kind);
		report.swept = report.swept || plan.kind === 'sweep' || plan.kind === 'settle';
		if (await read(plan, cursor, options, sink, report, allowance)) break;
		plan = cursor.nextRead(options.clock(), pageSize, budgetPerHour);
	}
	cursor.finishPoll(now);
	report.complete = report.stoppedBecause === undefined;
	if (report.stoppedBecause === 'budget') {
		report.budgetFreesInS = cursor.budgetFreesIn(options.clock(), budgetPerHour) / MICROS;
	}
	store.commit(cursor.state);
	return report;
}

/** One read, page after page; true when it stopped before its last page. */
async function read<T>(
	plan: PollPlan,
	cursor: Cursor,
	options: PollerOptions<T>,
	sink: (items: T[]) => void,
	report: PollReport,
	allowance: number,
): Promise<boolean> {
	let pageCursor = plan.page;
	let itemsRead = 0;
	for (;;) {
		let fetched = await attempt(() => options.fetch(plan, pageCursor));
		if ('failed' in fetched && pageCursor !== undefined && pageCursor === plan.page && options.refused?.(fetched.failed)) {
			pageCursor = undefined; // the API no longer takes the stored page: start the read over
			fetched = await attempt(() => options.fetch(plan, undefined));
		}
		if ('failed' in fetched) {
			if (report.pages === 0) throw fetched.failed;
			// n8n delivers only what a poll returns: keep the pages read, resume here next time
			if (pageCursor !== undefined) cursor.stopEarly(plan, pageCursor);
			report.stoppedBecause = `page ${report.pages + 1} failed: ${(fetched.failed as Error).message}`;
			return true;
		}
		const page = fetched.page;
		cursor.spend(options.clock());
		report.pages += 1;
		itemsRead += page.items.length;
		const keyed = page.items.map((item) => options.keyOf(item));
		const fresh = cursor.newItems(keyed);
		if (fresh.length > 0 && emits(plan)) {
			sink(fresh.map((index) => page.items[index]));
			report.emitted += fresh.length;
		}
		for (const index of fresh) cursor.record(...keyed[index]);
		if (keyed.length > 0) cursor.readUpTo(plan, keyed[keyed.length - 1][0]);
		pageCursor = page.next;
		if (pageCursor === undefined) {
			cursor.finishRead(plan, itemsRead, options.clock());
			return false;
		}
		if (fresh.length > 0 && emits(plan)) {
			cursor.prune();
			options.store.commit(cursor.state);
		}
		let reason = report.pages >= allowance ? 'budget' : undefined;
		if (reason === undefined && emits(plan)) reason = options.shouldStop?.();
		if (reason) {
			cursor.stopEarly(plan, pageCursor);
			report.stoppedBecause = reason;
			return true;
		}
	}
}

/** A request's page, or what it threw (so that the caller decides without a catch clause). */
async function attempt<T>(request: () => Promise<Page<T>>): Promise<{ page: Page<T> } | { failed: unknown }> {
	try {
		return { page: await request() };
	} catch (failed) {
		return { failed };
	}
}

/** A trigger's default budget: the token's hourly limit less the share left for actions. */
export function defaultBudget(perHour: number, actionReserve: number): number {
	return perHour * (1 - actionReserve);
}
