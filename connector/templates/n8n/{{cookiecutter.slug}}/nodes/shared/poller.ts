/**
 * One poll: fetch pages in ascending order, hand what is new to the sink, commit per page; the
 * port of `triggers/poller.py`.
 *
 * One difference, because of how n8n delivers: a poll's items reach the workflow only when
 * `poll()` returns, and a poll that throws delivers nothing. So a page after the first that fails
 * ends the poll like a low budget does: the pages before it are delivered and committed, and the
 * next poll resumes there. A failing first page throws with nothing committed.
 */

import { copyState, Cursor, startingAt, type CursorPolicy, type CursorState } from './cursor';

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
	fetch: (since: number, pageCursor: string | undefined) => Promise<Page<T>>;
	/** (id, timestamp in microseconds) of an item: the order in which items come out. */
	keyOf: (item: T) => [number, string];
	store: CursorStore;
	policy: CursorPolicy;
	now: number;
	/** Backfill: where a trigger without a cursor starts (default: now). */
	startUs?: number;
	/** Asked before every page after the first: a reason to stop now, e.g. the time budget. */
	shouldStop?: () => string | undefined;
}

export interface PollReport {
	emitted: number;
	pages: number;
	/** False when the poll stopped before the last page. */
	complete: boolean;
	stoppedBecause?: string;
	swept: boolean;
	firstPoll: boolean;
}

export async function poll<T>(options: PollerOptions<T>, sink: (items: T[]) => void): Promise<PollReport> {
	const { now, store } = options;
	const report: PollReport = { emitted: 0, pages: 0, complete: false, swept: false, firstPoll: false };
	let state = store.load();
	if (state === undefined) {
		report.firstPoll = true;
		state = startingAt(options.startUs ?? now);
	}
	const cursor = new Cursor(copyState(state), options.policy);
	const plan = cursor.plan(now);
	report.swept = plan.sweep;
	let pageCursor: string | undefined = plan.page;
	for (;;) {
		let page: Page<T>;
		if (report.pages === 0) {
			page = await options.fetch(plan.since, pageCursor);
		} else {
			try {
				page = await options.fetch(plan.since, pageCursor);
			} catch (error) {
				if (pageCursor !== undefined) {
					cursor.stopEarly(plan, pageCursor);
					store.commit(cursor.state);
				}
				report.stoppedBecause = `page ${report.pages + 1} failed: ${(error as Error).message}`;
				return report;
			}
		}
		report.pages += 1;
		const keyed = page.items.map((item) => options.keyOf(item));
		const fresh = cursor.newItems(keyed);
		if (fresh.length > 0) {
			sink(fresh.map((index) => page.items[index]));
			for (const index of fresh) cursor.record(...keyed[index]);
			report.emitted += fresh.length;
		}
		pageCursor = page.next;
		if (pageCursor === undefined) break;
		if (fresh.length > 0) {
			cursor.prune();
			store.commit(cursor.state);
		}
		const reason = options.shouldStop?.();
		if (reason) {
			cursor.stopEarly(plan, pageCursor);
			store.commit(cursor.state);
			report.stoppedBecause = reason;
			return report;
		}
	}
	cursor.finishPoll(plan);
	store.commit(cursor.state);
	report.complete = true;
	return report;
}
