/**
 * Dropdowns filled from the API (the account's domains), so people pick instead of typing.
 */

import type { ILoadOptionsFunctions, INodePropertyOptions } from 'n8n-workflow';

import { apiError, isOk, pageOf, send } from './transport';
import type { ListSourceSpec } from './types';

/** More than any account has domains; a bound so a broken cursor cannot loop forever. */
const MAX_PAGES = 20;

export async function listOptions(
	ctx: ILoadOptionsFunctions,
	source: ListSourceSpec,
): Promise<INodePropertyOptions[]> {
	const options: INodePropertyOptions[] = [];
	let cursor: string | undefined;
	for (let page = 0; page < MAX_PAGES; page++) {
		const answer = await send(ctx, source.request, {}, { [source.pagination.cursorParam]: cursor });
		if (!isOk(answer)) throw apiError(ctx, answer);
		const { items, next } = pageOf(answer.body, source.pagination);
		for (const item of items) {
			options.push({ name: String(item[source.label]), value: String(item[source.value]) });
		}
		if (next === undefined) break;
		cursor = next;
	}
	return options;
}
