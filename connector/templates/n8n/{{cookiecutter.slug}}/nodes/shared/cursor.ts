/**
 * The dedupe cursor, ported line for line from the Python triggers (`triggers/cursor.py`) so both
 * keep the same promises; one scenario table is replayed against each.
 *
 * Items are ordered by (timestamp, id). The cursor keeps the watermark (newest timestamp emitted,
 * or the start), the ids emitted within the look-back window, and when it last looked back. A
 * regular poll asks for `since = watermark` (inclusive: items tying with the newest one emitted
 * still come out, `seen` drops the repeats). Every `sweepInterval` a poll asks for
 * `since = watermark - lookback` instead, which finds items that became visible late; with
 * `lookback = lateness bound + sweep interval + margin`, an item visible at most the bound after
 * its timestamp is found by the first sweep after it became visible. `seen` only holds ids inside
 * the window, so the state stays small whatever the backlog. Times are integer microseconds.
 */

import { MICROS } from './time';

export const SWEEP_MARGIN_S = 30;

export interface CursorPolicy {
	latenessBoundS: number;
	sweepIntervalS: number;
}

export function lookbackUs(policy: CursorPolicy): number {
	return Math.trunc((policy.latenessBoundS + policy.sweepIntervalS + SWEEP_MARGIN_S) * MICROS);
}

export function sweepIntervalUs(policy: CursorPolicy): number {
	return Math.trunc(policy.sweepIntervalS * MICROS);
}

/** What is stored between polls (plain JSON, as n8n's static data wants it). */
export interface CursorState {
	/** Where the trigger started: nothing older is ever emitted. */
	floor: number;
	/** Newest timestamp emitted, or `floor` before the first item. */
	watermark: number;
	/** id -> timestamp of the items emitted inside the look-back window. */
	seen: Record<string, number>;
	/** Clock time when the last complete look-back began; null: never. */
	lastSweep: number | null;
	/** `since` of a poll that stopped part-way (absent in state saved by older versions). */
	resumeSince?: number | null;
	/** The API's cursor of that poll's next page. */
	resumePage?: string | null;
	/** When that poll was a look-back, when it began; null: it was not. */
	sweepStarted?: number | null;
}

export function startingAt(start: number): CursorState {
	return { floor: start, watermark: start, seen: {}, lastSweep: null };
}

export function copyState(state: CursorState): CursorState {
	return { ...state, seen: { ...state.seen } };
}

export interface PollPlan {
	since: number;
	sweep: boolean;
	/** Clock time when this look-back began (earlier than now when it resumes one). */
	started: number;
	/** The API's cursor of the first page to read (a poll resumed part-way). */
	page?: string;
}

/** Decides what one poll asks for and which of the items it gets are new. */
export class Cursor {
	private oldestSeen: number | undefined;

	constructor(
		readonly state: CursorState,
		readonly policy: CursorPolicy,
	) {
		this.oldestSeen = oldest(state.seen);
	}

	/** The oldest timestamp still watched for late items. */
	get windowStart(): number {
		return Math.max(this.state.floor, this.state.watermark - lookbackUs(this.policy));
	}

	/**
	 * Where this poll starts: where a poll that stopped part-way got to; the window before the
	 * watermark when a look-back is due; else the watermark.
	 */
	plan(now: number): PollPlan {
		const state = this.state;
		if (state.resumeSince !== undefined && state.resumeSince !== null) {
			const started = state.sweepStarted ?? null;
			return {
				since: state.resumeSince,
				sweep: started !== null,
				started: started ?? now,
				page: state.resumePage ?? undefined,
			};
		}
		const last = state.lastSweep;
		if (last === null || now - last >= sweepIntervalUs(this.policy)) {
			return { since: this.windowStart, sweep: true, started: now };
		}
		return { since: state.watermark, sweep: false, started: now };
	}

	/**
	 * Indexes of the (timestamp, id) keys of one page to emit, in page order: not emitted
	 * before, and inside the watched window.
	 */
	newItems(keyed: Array<[number, string]>): number[] {
		const start = this.windowStart;
		const seen = this.state.seen;
		const fresh: number[] = [];
		keyed.forEach(([timestamp, id], index) => {
			if (!Object.prototype.hasOwnProperty.call(seen, id) && timestamp >= start) fresh.push(index);
		});
		return fresh;
	}

	/** Remember an emitted item (after it was delivered, before the commit). */
	record(timestamp: number, id: string): void {
		this.state.seen[id] = timestamp;
		this.state.watermark = Math.max(this.state.watermark, timestamp);
		if (this.oldestSeen === undefined || timestamp < this.oldestSeen) this.oldestSeen = timestamp;
	}

	/**
	 * Forget the ids that fell out of the window, so the state follows the window, not the
	 * backlog (after every page: the window only moves forward as pages ascend).
	 */
	prune(): void {
		const start = this.windowStart;
		if (this.oldestSeen === undefined || this.oldestSeen >= start) return;
		for (const [id, timestamp] of Object.entries(this.state.seen)) {
			if (timestamp < start) delete this.state.seen[id];
		}
		this.oldestSeen = oldest(this.state.seen);
	}

	/**
	 * A poll stopped before its last page: the next one resumes at `nextPage`, never at the
	 * start of a look-back it already read (after a burst larger than one poll's budget, that
	 * would re-read the same pages and stop at the same place for ever).
	 */
	stopEarly(plan: PollPlan, nextPage: string): void {
		this.state.resumeSince = plan.since;
		this.state.resumePage = nextPage;
		this.state.sweepStarted = plan.sweep ? plan.started : null;
		this.prune();
	}

	/** After the last page of a complete poll: a look-back counts as done, as of when it began. */
	finishPoll(plan: PollPlan): void {
		if (plan.sweep) this.state.lastSweep = plan.started;
		this.state.resumeSince = null;
		this.state.resumePage = null;
		this.state.sweepStarted = null;
		this.prune();
	}
}

function oldest(seen: Record<string, number>): number | undefined {
	let found: number | undefined;
	for (const timestamp of Object.values(seen)) {
		if (found === undefined || timestamp < found) found = timestamp;
	}
	return found;
}
