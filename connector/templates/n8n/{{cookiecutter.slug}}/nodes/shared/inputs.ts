/**
 * Input preparation, as every MxGuard integration does it before sending: defaults, required
 * fields, choices, and formats (host names to punycode and lower case, sender patterns, ids).
 * Checking here turns a typo into a clear message instead of a 400 from the API.
 */

import type { InputSpec, Inputs } from './types';

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const OBJECT_ID = /^[A-Za-z0-9_-]{1,128}$/;
/** Characters a URL parser would read as something other than a host name. */
const NOT_IN_HOSTS = /[/?#@:\\%\s[\]]/;

export class InputError extends Error {}

function isMissing(value: unknown): boolean {
	return (
		value === undefined ||
		value === null ||
		value === '' ||
		(Array.isArray(value) && value.length === 0)
	);
}

/** A host name in the form the API wants: IDNs as punycode (UTS #46, as browsers do), lower case. */
export function hostname(value: string): string {
	const trimmed = value.trim().replace(/\.+$/, '');
	let name = '';
	if (trimmed !== '' && !NOT_IN_HOSTS.test(trimmed)) {
		try {
			name = new URL(`http://${trimmed}/`).hostname;
		} catch {
			name = '';
		}
	}
	const labels = name.split('.');
	const valid =
		labels.length >= 2 &&
		labels.every((label) => LABEL.test(label)) &&
		/^[a-z]/.test(labels[labels.length - 1]);
	if (!valid) throw new InputError(`'${value}' is not a host name`);
	return name;
}

function senderPattern(value: string): string {
	const text = value.trim();
	const at = text.lastIndexOf('@');
	return at < 0 ? hostname(text) : `${text.slice(0, at + 1)}${hostname(text.slice(at + 1))}`;
}

function formatted(field: InputSpec, item: unknown): unknown {
	if (field.format === 'hostname') return hostname(String(item));
	if (field.format === 'sender_pattern') return senderPattern(String(item));
	if (field.format === 'object_id' && !OBJECT_ID.test(String(item))) {
		throw new InputError(`${field.key}: not an id`);
	}
	return item;
}

/** Values by manifest key, ready for a request; empty optional inputs are left out. */
export function prepare(fields: InputSpec[], raw: Inputs): Inputs {
	const values: Inputs = {};
	for (const field of fields) {
		const value = raw[field.key] === undefined ? field.default : raw[field.key];
		if (isMissing(value)) {
			if (field.required) throw new InputError(`${field.key} is required`);
			continue;
		}
		const items = field.multiple && Array.isArray(value) ? value : [value];
		for (const item of items) {
			if (field.choices && !field.choices.includes(String(item))) {
				throw new InputError(`${field.key}: '${String(item)}' is not one of ${field.choices.join(', ')}`);
			}
		}
		const ready = items.map((item) => formatted(field, item));
		values[field.key] = field.multiple ? ready : ready[0];
	}
	return values;
}
