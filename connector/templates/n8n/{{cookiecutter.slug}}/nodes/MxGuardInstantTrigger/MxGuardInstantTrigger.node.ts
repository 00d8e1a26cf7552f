{#- Rendered only when a trigger has an instant version; otherwise the exporter removes this node. -#}
{%- if cookiecutter._n8n.instant -%}
import {
	NodeConnectionTypes,
	NodeOperationError,
	type IHookFunctions,
	type ILoadOptionsFunctions,
	type INodePropertyOptions,
	type INodeType,
	type INodeTypeDescription,
	type IWebhookFunctions,
	type IWebhookResponseData,
} from 'n8n-workflow';

import { readDelivery, subscribe, subscriptionExists, unsubscribe } from '../shared/bridge';
import { listOptions } from '../shared/options';
import type { InstantSpec } from '../shared/types';
import { INSTANT_EVENTS, LIST_SOURCES } from '../manifest';

/** The chosen event's spec; an unknown one is an error (a node saved by another version). */
function instantEvent(ctx: IHookFunctions): InstantSpec {
	const event = ctx.getNodeParameter('event') as string;
	const spec = INSTANT_EVENTS[event];
	if (spec === undefined) throw new NodeOperationError(ctx.getNode(), `Unknown event '${event}'`);
	return spec;
}

/**
 * {{ cookiecutter._n8n.label }} items as they happen, pushed by a bridge (`mxguard bridge serve`) instead of polled:
 * activating the workflow subscribes this node's webhook URL to the event on the bridge (with the
 * filters and a signing secret generated here), deactivating it unsubscribes. Every request the
 * bridge sends is checked (Standard Webhooks signature, timestamp) before the item is emitted, in
 * the polling trigger's shape; anything else is answered 401 and starts nothing.
 */
export class MxGuardInstantTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: '{{ cookiecutter._n8n.label }} Instant Trigger',
		name: 'mxGuardInstantTrigger',
		icon: { light: 'file:../../icons/mxguard.svg', dark: 'file:../../icons/mxguard.dark.svg' },
		group: ['trigger'],
		version: 1,
		{%- raw %}
		subtitle: '={{$parameter["event"]}}',
		{%- endraw %}
		description: {{ cookiecutter._n8n.instant.description }},
		defaults: {
			name: '{{ cookiecutter._n8n.label }} Instant Trigger',
		},
		inputs: [],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{
				name: 'mxGuardApi',
				required: true,
			},
		],
		webhooks: [
			{
				name: 'default',
				httpMethod: 'POST',
				responseMode: 'onReceived',
				path: 'webhook',
			},
		],
		properties: {{ cookiecutter._n8n.instant.properties }},
	};

	methods = {
		loadOptions: {
{{ cookiecutter._n8n.instant.load_options }}
		},
	};

	webhookMethods = {
		default: {
			async checkExists(this: IHookFunctions): Promise<boolean> {
				return await subscriptionExists(this, instantEvent(this));
			},
			async create(this: IHookFunctions): Promise<boolean> {
				await subscribe(this, instantEvent(this));
				return true;
			},
			async delete(this: IHookFunctions): Promise<boolean> {
				await unsubscribe(this);
				return true;
			},
		},
	};

	async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
		const delivery = readDelivery(this, Date.now() / 1000);
		if (!delivery.trusted) {
			this.logger.warn(`{{ cookiecutter._n8n.label }} Instant Trigger refused a request: ${delivery.problem}`);
			this.getResponseObject().status(401).json({ error: delivery.problem });
			return { noWebhookResponse: true };
		}
		if (delivery.event !== delivery.mine) {
			// Signed by the bridge for another event: nothing to start, and no reason to retry.
			return { webhookResponse: { ignored: `not a ${delivery.mine} item` } };
		}
		return { workflowData: [this.helpers.returnJsonArray([delivery.item])] };
	}
}
{%- endif %}
