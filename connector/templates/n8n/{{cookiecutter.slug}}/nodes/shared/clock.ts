/**
 * The one place the nodes read the time. A poll's "now" decides when it looks back for late
 * items, so tests replace `clock.nowMicros` to replay scenarios on a simulated clock.
 */
export const clock = {
	nowMicros: (): number => Date.now() * 1000,
};
