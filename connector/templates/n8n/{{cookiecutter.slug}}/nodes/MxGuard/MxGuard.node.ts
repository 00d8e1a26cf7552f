import {
	NodeConnectionTypes,
	NodeOperationError,
	type IExecuteFunctions,
	type ILoadOptionsFunctions,
	type INodeExecutionData,
	type INodePropertyOptions,
	type INodeType,
	type INodeTypeDescription,
} from 'n8n-workflow';

import { runAction } from '../shared/actions';
import { asNodeError } from '../shared/errors';
import { prepare } from '../shared/inputs';
import { listOptions } from '../shared/options';
import { ACTIONS, LIST_SOURCES } from '../manifest';

/**
 * {{ cookiecutter._n8n.label }} actions and searches, generated from the connector's manifests.
 * A programmatic node (`execute`), not declarative routing: most actions answer a repeat by a
 * rule of `actions/repeat.py` (look the object up, compare, set an outcome), which routing cannot
 * express.
 */
export class MxGuard implements INodeType {
	description: INodeTypeDescription = {
		displayName: '{{ cookiecutter._n8n.label }}',
		name: 'mxGuard',
		icon: { light: 'file:../../icons/mxguard.svg', dark: 'file:../../icons/mxguard.dark.svg' },
		group: ['transform'],
		version: 1,
		{%- raw %}
		subtitle: '={{$parameter["operation"] + ": " + $parameter["resource"]}}',
		{%- endraw %}
		description: {{ cookiecutter._n8n.description }},
		defaults: {
			name: '{{ cookiecutter._n8n.label }}',
		},
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{
				name: 'mxGuardApi',
				required: true,
			},
		],
		properties: {{ cookiecutter._n8n.action_properties }},
	};

	methods = {
		loadOptions: {
{{ cookiecutter._n8n.action_load_options }}
		},
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const items = this.getInputData();
		const results: INodeExecutionData[] = [];
		for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
			try {
				const operation = this.getNodeParameter('operation', itemIndex) as string;
				const spec = ACTIONS[operation];
				if (spec === undefined) {
					throw new NodeOperationError(this.getNode(), `Unknown operation '${operation}'`, { itemIndex });
				}
				const raw = Object.fromEntries(
					spec.inputs.map((field) => [field.key, this.getNodeParameter(field.param, itemIndex, undefined)]),
				);
				const result = await runAction(this, spec, prepare(spec.inputs, raw), itemIndex);
				for (const json of Array.isArray(result) ? result : [result]) {
					results.push({ json, pairedItem: { item: itemIndex } });
				}
			} catch (error) {
				if (this.continueOnFail()) {
					results.push({ json: { error: (error as Error).message }, pairedItem: { item: itemIndex } });
					continue;
				}
				throw asNodeError(this.getNode(), error, itemIndex);
			}
		}
		return [results];
	}
}
