/**
 * Timestamps as integer microseconds since the epoch. MxGuard stamps items to the microsecond and
 * items that share a timestamp must stay ties, so `Date` (milliseconds) is only used for the
 * calendar part. Integers below 2^53 are exact in a JavaScript number until the year 2255.
 */

export const MICROS = 1_000_000;

const STAMP =
	/^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?\s*([Zz]|[+-]\d{2}:?\d{2})?$/;

/** `1763924112123456` -> `2025-11-23T18:55:12.123456Z`, the API's own format. */
export function formatMicros(micros: number): string {
	const fraction = ((micros % MICROS) + MICROS) % MICROS;
	const seconds = (micros - fraction) / MICROS;
	const iso = new Date(seconds * 1000).toISOString();
	return `${iso.slice(0, 19)}.${String(fraction).padStart(6, '0')}Z`;
}

/**
 * Parse an RFC 3339 timestamp (or a date, or a time without offset, read in `timeZone`, else UTC)
 * to microseconds; a leap second is the last microsecond of its minute, as the API reads it.
 */
export function parseMicros(text: string, timeZone?: string): number | undefined {
	const match = STAMP.exec(text.trim());
	if (match === null) return undefined;
	const [, year, month, day, hour = '0', minute = '0', second = '0', fraction = '', zone] = match;
	const leap = second === '60';
	const wallMs = Date.UTC(+year, +month - 1, +day, +hour, +minute, leap ? 59 : +second);
	const micros = leap ? MICROS - 1 : Number(`${fraction.slice(1)}000000`.slice(0, 6));
	return (wallMs - offsetMs(zone, wallMs, timeZone)) * 1000 + micros;
}

function offsetMs(zone: string | undefined, wallMs: number, timeZone: string | undefined): number {
	if (zone === undefined) {
		if (!timeZone) return 0;
		const guess = wallMs - zoneOffsetAt(timeZone, wallMs);
		return zoneOffsetAt(timeZone, guess);
	}
	if (zone.toUpperCase() === 'Z') return 0;
	const digits = zone.replace(':', '');
	const minutes = Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5));
	return (digits.startsWith('-') ? -minutes : minutes) * 60_000;
}

/** How far `timeZone`'s wall clock is ahead of UTC at the instant `utcMs`. */
function zoneOffsetAt(timeZone: string, utcMs: number): number {
	const parts = new Intl.DateTimeFormat('en-US', {
		timeZone,
		hourCycle: 'h23',
		year: 'numeric',
		month: 'numeric',
		day: 'numeric',
		hour: 'numeric',
		minute: 'numeric',
		second: 'numeric',
	}).formatToParts(new Date(utcMs));
	const part = (type: string): number => Number(parts.find((p) => p.type === type)?.value);
	const wall = Date.UTC(
		part('year'),
		part('month') - 1,
		part('day'),
		part('hour'),
		part('minute'),
		part('second'),
	);
	return wall - Math.floor(utcMs / 1000) * 1000;
}
