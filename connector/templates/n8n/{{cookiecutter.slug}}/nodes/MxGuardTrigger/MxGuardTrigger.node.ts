import {
	NodeConnectionTypes,
	NodeOperationError,
	type IDataObject,
	type ILoadOptionsFunctions,
	type INodeExecutionData,
	type INodePropertyOptions,
	type INodeType,
	type INodeTypeDescription,
	type IPollFunctions,
} from 'n8n-workflow';

import { asNodeError } from '../shared/errors';
import { prepare } from '../shared/inputs';
import { listOptions } from '../shared/options';
import { defaultRequestsPerHour, describeReport, newest, noteworthy, pollEvent } from '../shared/polling';
import { parseMicros } from '../shared/time';
import { EVENTS, LIST_SOURCES } from '../manifest';

/**
 * Polls {{ cookiecutter._n8n.label }} for new items with the same cursor as the Python triggers: every item once, in
 * ascending (timestamp, id) order, ties and late arrivals (within the published bound) included,
 * all pages followed, within an hourly budget of requests ("Requests per Hour"); the first
 * activation starts from now unless "Emit Items Since" is set.
 */
export class MxGuardTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: '{{ cookiecutter._n8n.label }} Trigger',
		name: 'mxGuardTrigger',
		icon: { light: 'file:../../icons/mxguard.svg', dark: 'file:../../icons/mxguard.dark.svg' },
		group: ['trigger'],
		version: 1,
		{%- raw %}
		subtitle: '={{$parameter["event"]}}',
		{%- endraw %}
		description: {{ cookiecutter._n8n.trigger_description }},
		defaults: {
			name: '{{ cookiecutter._n8n.label }} Trigger',
		},
		polling: true,
		inputs: [],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{
				name: 'mxGuardApi',
				required: true,
			},
		],
		properties: {{ cookiecutter._n8n.trigger_properties }},
	};

	methods = {
		loadOptions: {
{{ cookiecutter._n8n.trigger_load_options }}
		},
	};

	async poll(this: IPollFunctions): Promise<INodeExecutionData[][] | null> {
		const event = this.getNodeParameter('event') as string;
		const spec = EVENTS[event];
		if (spec === undefined) throw new NodeOperationError(this.getNode(), `Unknown event '${event}'`);
		try {
			const raw = Object.fromEntries(
				spec.inputs.map((field) => [field.key, this.getNodeParameter(field.param, undefined)]),
			);
			const filters = prepare(spec.inputs, raw);
			if (this.getMode() === 'manual') {
				const items = await newest(this, spec, filters, 1);
				return items.length > 0 ? [this.helpers.returnJsonArray(items as IDataObject[])] : null;
			}
			const options = this.getNodeParameter('options', {}) as IDataObject;
			const credential = this.getNode().credentials?.mxGuardApi?.id ?? null;
			const cursorKey = JSON.stringify([spec.key, filters, credential]);
			const since = options.since ? parseMicros(String(options.since), this.getTimezone()) : undefined;
			if (options.since && since === undefined) {
				throw new NodeOperationError(this.getNode(), `Emit Items Since: '${String(options.since)}' is not a date and time`);
			}
			const budget = requestsPerHour(options.requestsPerHour) ?? defaultRequestsPerHour(spec.polling);
			if (Number.isNaN(budget)) {
				throw new NodeOperationError(
					this.getNode(),
					`Requests per Hour: '${String(options.requestsPerHour)}' is not a number above 0`,
				);
			}
			const { items, report } = await pollEvent(this, spec, filters, cursorKey, since, budget);
			const line = `MxGuard Trigger ${describeReport(event, report)}`;
			if (noteworthy(report)) this.logger.info(line);
			else this.logger.debug(line);
			return items.length > 0 ? [this.helpers.returnJsonArray(items as IDataObject[])] : null;
		} catch (error) {
			throw asNodeError(this.getNode(), error);
		}
	}
}

/** The "Requests per Hour" option: undefined when empty (the default applies), NaN when invalid. */
function requestsPerHour(value: unknown): number | undefined {
	if (value === undefined || value === null || value === '') return undefined;
	const budget = Number(value);
	return Number.isFinite(budget) && budget > 0 ? budget : NaN;
}
