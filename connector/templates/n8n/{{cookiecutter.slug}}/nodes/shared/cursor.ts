/**
 * The dedupe cursor, ported line for line from the Python triggers (`triggers/cursor.py`, whose
 * docstrings give the reasons at length) so both keep the same promises; one scenario table is
 * replayed against each. Its constants come from the export's spec (`PollingSpec`), which takes
 * them from the Python module: one source of truth.
 *
 * Items are ordered by (timestamp, id); an item becomes visible at most the lateness bound after
 * its timestamp. The cursor keeps the watermark (newest timestamp emitted, or the start), when the
 * last complete read of *settled* time began (`lastSweep`: everything stamped before
 * `settled = lastSweep - settleDelay` was read while visible, so no read goes back further;
 * `settleDelay = lateness bound + skew margin`), the ids emitted at or after `settled`, where a
 * read that stopped part-way got to, the measured traffic (`rate`), when it last polled, and the
 * requests it made in the last hour (`spent`).
 *
 * A poll makes up to two reads: `fresh` (from the watermark less a few seconds to now: on-time
 * items at once), `settle` (settled time up to `now - settleDelay`, with `until`: each item read
 * once more, for the late ones), `sweep` (both in one read, when that costs no more pages), and at
 * activation `prime` (the last `settleDelay` read without emitting, so an item stamped before the
 * activation that becomes visible after it still comes out). Live mode reads fresh every poll and
 * settled time every sweep interval; when that would need more requests than the budget, batch
 * mode only settles, each stretch once. A read stopped by the budget resumes at its next page.
 * Times are integer microseconds.
 */

import { MICROS } from './time';

export const MINUTE_US = 60 * MICROS;
export const HOUR_US = 60 * MINUTE_US;

export type ReadKind = 'fresh' | 'settle' | 'sweep' | 'prime';
export type Mode = 'live' | 'batch';

/** The manifests' bound and look-back interval, and the Python cursor's constants. */
export interface CursorPolicy {
	latenessBoundS: number;
	sweepIntervalS: number;
	skewMarginS: number;
	freshOverlapS: number;
	pageFill: number;
	rateWeight: number;
	rateStep: number;
	burstFactor: number;
	defaultPollIntervalS: number;
	minPollIntervalS: number;
}

/** How long after its timestamp an item is surely visible (on MxGuard's clock too). */
export function settleDelayUs(policy: CursorPolicy): number {
	return Math.trunc((policy.latenessBoundS + policy.skewMarginS) * MICROS);
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
	/** id -> timestamp of the items emitted at or after `settled`. */
	seen: Record<string, number>;
	/** Clock time when the last complete read of settled time began; null: never. */
	lastSweep: number | null;
	/** `since` of a read that stopped part-way; null: none pending. */
	resumeSince: number | null;
	/** The API's cursor of that read's next page. */
	resumePage: string | null;
	/** When that read began, when it reads settled time; null: a fresh read. */
	sweepStarted: number | null;
	/** `until` of that read, when it is a settle read. */
	resumeUntil: number | null;
	/** Items a second, as measured by complete reads (a weighted running estimate). */
	rate: number;
	/** Clock time of the last poll: the interval between polls is measured, not assumed. */
	lastPoll: number | null;
	/** Minute (clock µs / 60 s, rounded down) -> requests made in it, for the last hour. */
	spent: Record<string, number>;
}

/** A state as an older version of the node stored it: the fields added since may be missing. */
export type StoredState = Pick<CursorState, 'floor' | 'watermark' | 'seen'> & Partial<CursorState>;

export function startingAt(start: number): CursorState {
	return copyState({ floor: start, watermark: start, seen: {} });
}

/** An independent copy (`seen` and `spent` included), every field present. */
export function copyState(state: StoredState): CursorState {
	return {
		floor: state.floor,
		watermark: state.watermark,
		seen: { ...state.seen },
		lastSweep: state.lastSweep ?? null,
		resumeSince: state.resumeSince ?? null,
		resumePage: state.resumePage ?? null,
		sweepStarted: state.sweepStarted ?? null,
		resumeUntil: state.resumeUntil ?? null,
		rate: state.rate ?? 0,
		lastPoll: state.lastPoll ?? null,
		spent: { ...(state.spent ?? {}) },
	};
}

/** One read: from `since` (inclusive) to `until` (exclusive; undefined: to the newest). */
export interface PollPlan {
	since: number;
	kind: ReadKind;
	/** Clock time when this read began (earlier than now when it resumes one). */
	started: number;
	/** The API's cursor of the first page to read (a read resumed part-way). */
	page?: string;
	until?: number;
}

/** Whether a read covers settled time, so that `settled` moves on when it completes. */
export function readsSettled(plan: PollPlan): boolean {
	return plan.kind !== 'fresh';
}

export function emits(plan: PollPlan): boolean {
	return plan.kind !== 'prime';
}

/** Requests a read of `items` items costs: at least one, even when nothing is new. */
export function pages(items: number, pageSize: number): number {
	return Math.max(1, Math.ceil(items / pageSize));
}

/** `a // b` of Python for integers, exact (no rounding of the quotient). */
function floorDiv(a: number, b: number): number {
	return (a - (((a % b) + b) % b)) / b;
}

/** What the policy plans with: measured rate, poll interval, page size, budget. */
export class Traffic {
	constructor(
		/** Items a second. */
		readonly rate: number,
		readonly intervalS: number,
		readonly pageSize: number,
		readonly budgetPerHour: number,
	) {}

	/** Fresh reads every poll, settled time every sweep interval (or every poll, when a sweep
	 * costs no more than a fresh read). */
	liveCostPerHour(policy: CursorPolicy): number {
		const interval = this.intervalS;
		const every = Math.max(policy.sweepIntervalS, this.intervalS);
		const delay = settleDelayUs(policy) / MICROS;
		const fresh = pages(this.rate * (interval + policy.freshOverlapS), this.pageSize);
		if (pages(this.rate * (interval + delay), this.pageSize) <= fresh) return (3600 / interval) * fresh;
		const settle = pages(this.rate * every, this.pageSize);
		const sweep = pages(this.rate * (every + delay), this.pageSize);
		return (3600 / interval) * fresh + (3600 / every) * Math.min(settle, sweep - fresh);
	}

	/** Settled time every poll, nothing else: each item read once. */
	batchCostPerHour(): number {
		return (3600 / this.intervalS) * pages(this.rate * this.intervalS, this.pageSize);
	}

	mode(policy: CursorPolicy): Mode {
		return this.liveCostPerHour(policy) <= this.budgetPerHour ? 'live' : 'batch';
	}

	/** How many seconds of traffic batch mode falls further behind each hour (0: none). */
	behindPerHourS(): number {
		const capacity = this.budgetPerHour * this.pageSize;
		const wanted = this.rate * 3600;
		return wanted <= capacity ? 0 : 3600 * (1 - capacity / wanted);
	}
}

/** Plans a poll's reads and decides which items of each page are new. */
export class Cursor {
	private oldestSeen: number | undefined;
	private readonly done = new Set<ReadKind>();
	private resumed = false;
	private mode: Mode | undefined;

	constructor(
		readonly state: CursorState,
		readonly policy: CursorPolicy,
	) {
		this.oldestSeen = oldest(state.seen);
	}

	/** Everything stamped before this was read while visible: no read goes further back. */
	get settled(): number {
		const last = this.state.lastSweep;
		const settled = last === null ? this.state.floor : last - settleDelayUs(this.policy);
		return Math.max(this.state.floor, settled);
	}

	/** The oldest timestamp a read may still bring back (the ids before it are dropped). */
	get windowStart(): number {
		return this.settled;
	}

	traffic(now: number, pageSize: number, budgetPerHour: number): Traffic {
		const last = this.state.lastPoll;
		const interval = last !== null && now > last ? (now - last) / MICROS : 0;
		// polls closer than the minimum (one run after another) are planned as that far apart
		const intervalS = interval ? Math.max(interval, this.policy.minPollIntervalS) : this.policy.defaultPollIntervalS;
		return new Traffic(this.state.rate, intervalS, pageSize, budgetPerHour);
	}

	/** The next read of this poll, or undefined when the poll is done. */
	nextRead(now: number, pageSize: number, budgetPerHour: number): PollPlan | undefined {
		const state = this.state;
		if (state.resumeSince !== null && !this.resumed) {
			this.resumed = true;
			let kind: ReadKind = 'fresh';
			if (state.sweepStarted !== null) kind = state.resumeUntil !== null ? 'settle' : 'sweep';
			return {
				since: state.resumeSince,
				kind,
				started: state.sweepStarted ?? now,
				page: state.resumePage ?? undefined,
				until: state.resumeUntil ?? undefined,
			};
		}
		if (this.done.has('sweep') || this.done.has('prime')) return undefined;
		const traffic = this.traffic(now, pageSize, budgetPerHour);
		// one mode a poll, whatever its reads measure
		if (this.mode === undefined) this.mode = traffic.mode(this.policy);
		const overlap = Math.trunc(this.policy.freshOverlapS * MICROS);
		const freshSince = Math.max(state.watermark - overlap, this.settled);
		if (this.mode === 'batch') {
			const until = now - settleDelayUs(this.policy);
			if (this.done.has('settle') || until <= this.settled) return undefined;
			const stretchS = (until - this.settled) / MICROS;
			// a read now would spend a request on less than a page
			if (stretchS < 3600 / budgetPerHour && traffic.rate * stretchS < pageSize) return undefined;
			return { since: this.settled, kind: 'settle', started: now, until };
		}
		if (!this.done.has('settle') && !this.done.has('fresh')) {
			const rate = traffic.rate / MICROS;
			const delay = settleDelayUs(this.policy);
			const fresh = pages(rate * (now - freshSince), pageSize);
			const sweep = pages(rate * (now - this.settled), pageSize);
			const last = state.lastSweep;
			const due = last === null || now - last >= sweepIntervalUs(this.policy);
			if (sweep <= fresh) return { since: this.settled, kind: 'sweep', started: now };
			if (due) {
				const until = this.settleUntil(now - delay, traffic.rate, pageSize);
				const settle = pages(rate * (until - this.settled), pageSize);
				if (sweep < settle + fresh || until <= this.settled) {
					return { since: this.settled, kind: 'sweep', started: now };
				}
				return { since: this.settled, kind: 'settle', started: now, until };
			}
		}
		if (this.done.has('fresh')) return undefined;
		return { since: freshSince, kind: 'fresh', started: now };
	}

	/**
	 * Where a settle read up to `latest` should end so that its pages come out full but not one
	 * item over: the stretch is cut to the whole pages it fills, at `pageFill` of a page each.
	 */
	settleUntil(latest: number, rate: number, pageSize: number): number {
		const stretchS = (latest - this.settled) / MICROS;
		const perPage = this.policy.pageFill * pageSize;
		if (rate <= 0 || rate * stretchS <= perPage) return latest;
		const whole = Math.max(1, Math.floor((rate * stretchS) / perPage));
		return Math.min(latest, this.settled + Math.trunc(((whole * perPage) / rate) * MICROS));
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
	 * backlog (after every page: the window only moves forward).
	 */
	prune(): void {
		const start = this.windowStart;
		if (this.oldestSeen === undefined || this.oldestSeen >= start) return;
		for (const [id, timestamp] of Object.entries(this.state.seen)) {
			if (timestamp < start) delete this.state.seen[id];
		}
		this.oldestSeen = oldest(this.state.seen);
	}

	/** A read stopped before its last page: the next poll resumes at `nextPage`. */
	stopEarly(plan: PollPlan, nextPage: string): void {
		this.state.resumeSince = plan.since;
		this.state.resumePage = nextPage;
		this.state.resumeUntil = plan.until ?? null;
		this.state.sweepStarted = readsSettled(plan) ? plan.started : null;
		this.prune();
	}

	/**
	 * A page of a read of settled time ended at timestamp `last`: everything stamped before it
	 * (and before the read's own end) is settled now, without waiting for the read to end, so that
	 * a long read (a backfill) keeps only a page's worth of ids in `seen`. (Items stamped exactly
	 * `last` may continue on the next page: they stay watched.)
	 */
	readUpTo(plan: PollPlan, last: number): void {
		if (!readsSettled(plan)) return;
		let end = plan.started - settleDelayUs(this.policy);
		if (plan.until !== undefined) end = Math.min(end, plan.until);
		this.settleTo(Math.min(last, end));
	}

	/** Settled time ends at `settled` (never moving back): as if a sweep had begun a settle delay after it. */
	private settleTo(settled: number): void {
		const moved = settled + settleDelayUs(this.policy);
		if (this.state.lastSweep === null || moved > this.state.lastSweep) this.state.lastSweep = moved;
	}

	/**
	 * After the last page of a read: a read of settled time counts as done, as of when it began;
	 * a whole read measures the traffic.
	 */
	finishRead(plan: PollPlan, itemsRead: number, now: number): void {
		const state = this.state;
		this.done.add(plan.kind);
		if (readsSettled(plan)) {
			const end = plan.started - settleDelayUs(this.policy);
			this.settleTo(plan.until === undefined ? end : Math.min(end, plan.until));
		}
		const resumed = plan.page !== undefined;
		state.resumeSince = null;
		state.resumePage = null;
		state.sweepStarted = null;
		state.resumeUntil = null;
		const end = plan.until ?? now;
		const spanS = (end - plan.since) / MICROS;
		if (!resumed && spanS >= 1) {
			let measured = itemsRead / spanS;
			if (state.rate === 0) {
				state.rate = measured;
			} else {
				// a burst counts at most `rateStep` times the estimate: it passes, the traffic stays
				measured = Math.min(measured, this.policy.rateStep * state.rate);
				state.rate = this.policy.rateWeight * measured + (1 - this.policy.rateWeight) * state.rate;
			}
		}
		this.prune();
	}

	/** The poll is over: remember when, for the interval between polls. */
	finishPoll(now: number): void {
		this.state.lastPoll = now;
	}

	/**
	 * Requests made in the hour before `now`, counted by whole minutes: the minute the hour began
	 * in counts whole, so this is never less than the truth.
	 */
	spentLastHour(now: number): number {
		const first = floorDiv(now - HOUR_US, MINUTE_US);
		let total = 0;
		for (const [minute, count] of Object.entries(this.state.spent)) {
			if (Number(minute) >= first) total += count;
		}
		return total;
	}

	spend(now: number, requests = 1): void {
		const minute = floorDiv(now, MINUTE_US);
		const first = floorDiv(now - HOUR_US, MINUTE_US);
		const spent: Record<string, number> = {};
		for (const [key, count] of Object.entries(this.state.spent)) {
			if (Number(key) >= first) spent[key] = count;
		}
		spent[String(minute)] = (spent[String(minute)] ?? 0) + requests;
		this.state.spent = spent;
	}

	/**
	 * Requests this poll may make: what is left of the hour, and, once polls have a cadence, at
	 * most `burstFactor` times a poll's average share (so a backlog is caught up over several
	 * polls). A first poll (a backfill, or one cut short before it ended) has no cadence yet: the
	 * hour's budget is its only limit.
	 */
	allowance(now: number, budgetPerHour: number): number {
		if (!Number.isFinite(budgetPerHour)) return Infinity;
		const left = budgetPerHour - this.spentLastHour(now);
		if (this.state.lastPoll === null) return Math.max(0, left);
		const interval = this.traffic(now, 1, budgetPerHour).intervalS;
		const share = (budgetPerHour * interval) / 3600;
		return Math.max(0, Math.min(left, Math.max(1, Math.ceil(this.policy.burstFactor * share))));
	}

	/** Microseconds until the hour's budget allows a request again (0: it does now). */
	budgetFreesIn(now: number, budgetPerHour: number): number {
		let spent = this.spentLastHour(now);
		if (spent < budgetPerHour) return 0;
		const minutes = Object.keys(this.state.spent)
			.map(Number)
			.sort((a, b) => a - b);
		for (const minute of minutes) {
			spent -= this.state.spent[String(minute)];
			if (spent < budgetPerHour) return Math.max(0, (minute + 1) * MINUTE_US + HOUR_US - now);
		}
		return 0;
	}
}

function oldest(seen: Record<string, number>): number | undefined {
	let found: number | undefined;
	for (const timestamp of Object.values(seen)) {
		if (found === undefined || timestamp < found) found = timestamp;
	}
	return found;
}
