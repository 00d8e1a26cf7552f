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

export interface PollingSpec {
	idField: string;
	timeField: string;
	sinceParam: string;
	orderParam: string;
	latenessBoundS: number;
	lookBackEveryS: number;
}

/** What an answer with `status` means for an action (n8n may run a step twice). */
export interface StatusRuleSpec {
	status: number;
	outcome?: string;
	lookup?: RequestSpec;
	findIn?: string;
	match: Record<string, string>;
	acceptIf: Record<string, ParamSpec>;
	result: ParamSpec[];
	empty: boolean;
	error?: string;
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
	statusRules: StatusRuleSpec[];
	clientFilters: Record<string, string>;
}

/** A dropdown's items: the request, its pages, and which item fields become value and label. */
export interface ListSourceSpec {
	request: RequestSpec;
	pagination: PaginationSpec;
	value: string;
	label: string;
}
