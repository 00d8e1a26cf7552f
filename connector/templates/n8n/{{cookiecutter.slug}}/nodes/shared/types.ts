/**
 * The part of the MxGuard manifests the nodes run on. `operations.ts` and `events.ts` hold the
 * generated values; this file only says their shape, so the engine stays the same for every API.
 */

export type FieldType = 'string' | 'integer' | 'number' | 'boolean' | 'datetime' | 'object' | 'array';
export type FieldFormat = 'hostname' | 'sender_pattern' | 'object_id';
export type Inputs = Record<string, unknown>;

/** One input of an operation; `param` is the n8n parameter it is read from. */
export interface InputSpec {
	key: string;
	param: string;
	type: FieldType;
	required: boolean;
	default?: unknown;
	choices?: string[];
	multiple: boolean;
	format?: FieldFormat;
}

/** One request value: from an input, a constant, or "now minus an input's days". */
export interface ParamSpec {
	name: string;
	input?: string;
	constant?: unknown;
	daysAgoInput?: string;
}

export interface RequestSpec {
	method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
	path: string;
	query: ParamSpec[];
	body: ParamSpec[];
}

export interface PaginationSpec {
	items: string;
	hasMore: string;
	nextCursor: string;
	cursorParam: string;
	limitParam: string;
	maxLimit: number;
}

/**
 * How a trigger polls: the listing's fields and parameters, and the Python cursor's constants
 * (`triggers/cursor.py`, `triggers/poller.py`), exported so that both plan with the same numbers.
 */
export interface PollingSpec {
	idField: string;
	timeField: string;
	sinceParam: string;
	/** The listing's exclusive upper bound (a settle read ends there). */
	untilParam: string;
	orderParam: string;
	latenessBoundS: number;
	lookBackEveryS: number;
	/** Allowance for this machine's clock running ahead of MxGuard's. */
	skewMarginS: number;
	/** A fresh read starts this far before the watermark. */
	freshOverlapS: number;
	/** A settle read plans for pages this full. */
	pageFill: number;
	/** Weight of the newest measurement in the traffic estimate. */
	rateWeight: number;
	/** One measurement moves the estimate towards at most this many times the estimate. */
	rateStep: number;
	/** One poll may spend this many times its average share of the hourly budget. */
	burstFactor: number;
	/** The interval between polls assumed until two polls have shown the real one. */
	defaultPollIntervalS: number;
	/** Polls closer than this (one run after another) are planned as this far apart. */
	minPollIntervalS: number;
	/** The share of the token's hourly requests a trigger leaves for actions by default. */
	actionReserve: number;
	/** The token's hourly limit of requests, as MxGuard publishes it. */
	tokenPerHour: number;
}

/**
 * What running an action again answers (`actions/repeat.py`): the rule applies to an error with
 * its `status` only, and `shape` says which of the four kinds it is.
 */
export type RepeatSpec = AbsentSpec | ExistingSpec | CurrentSpec | EmptySpec;

/** A removal whose object is gone already: `check` is sent first (its error is the answer). */
export interface AbsentSpec {
	shape: 'absent';
	status: number;
	outcome: string;
	result: ParamSpec[];
	check?: RequestSpec;
}

/**
 * A creation whose object exists already: `lookup` fetches it (or, with `findIn`, a list whose
 * item has the `match` fields equal to those inputs); it is the answer when every `same` field
 * equals its input, otherwise `error` is.
 */
export interface ExistingSpec {
	shape: 'existing';
	status: number;
	outcome: string;
	lookup: RequestSpec;
	findIn?: string;
	match: Record<string, string>;
	same: Record<string, string>;
	error: string;
}

/** A change whose object is already in the target state: `lookup`'s `field` equals `value`. */
export interface CurrentSpec {
	shape: 'current';
	status: number;
	outcome: string;
	lookup: RequestSpec;
	field: string;
	value: unknown;
	error: string;
}

/** A search by key whose object is not there found nothing. */
export interface EmptySpec {
	shape: 'empty';
	status: number;
}

export interface OperationSpec {
	key: string;
	kind: 'trigger' | 'create' | 'update' | 'delete' | 'search';
	noun: string;
	inputs: InputSpec[];
	request: RequestSpec;
	pagination?: PaginationSpec;
	polling?: PollingSpec;
	successOutcome?: string;
	successResult: ParamSpec[];
	maxPages?: number;
	resultLimitInput?: string;
	repeat?: RepeatSpec;
	clientFilters: Record<string, string>;
}

/** A dropdown's items: the request, its pages, and which item fields become value and label. */
export interface ListSourceSpec {
	request: RequestSpec;
	pagination: PaginationSpec;
	value: string;
	label: string;
}

/** An instant trigger: the bridge's event, and the filters (the polling trigger's inputs). */
export interface InstantSpec {
	key: string;
	event: string;
	inputs: InputSpec[];
}

/**
 * How the instant trigger talks to the bridge (`connector.bridge` of the manifests): the
 * credential field holding its URL, the subscription requests (inputs `event`, `filters`,
 * `target_url`, `secret`, `description`, `id`), where answers and deliveries put things, and the
 * Standard Webhooks signature a delivery carries.
 */
export interface BridgeSpec {
	urlField: { credential: string; label: string; pattern: string };
	subscribe: RequestSpec;
	find: RequestSpec;
	unsubscribe: RequestSpec;
	/** Where a listing puts its subscriptions. */
	items: string;
	/** A subscription's id, and the signing secret in the subscribe answer. */
	idField: string;
	secretField: string;
	/** A delivery's body: where it names the event, and the item (what a poll returns). */
	payload: { eventField: string; itemField: string };
	signature: SignatureSpec;
}

/** Standard Webhooks: `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`. */
export interface SignatureSpec {
	idHeader: string;
	timestampHeader: string;
	signatureHeader: string;
	/** A secret is this prefix and the base64 of at least `secretMinBytes` random bytes. */
	secretPrefix: string;
	secretMinBytes: number;
	/** How far a delivery's timestamp may be from this machine's clock, in seconds. */
	toleranceS: number;
}
