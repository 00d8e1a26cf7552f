import type {
	IAuthenticateGeneric,
	Icon,
	ICredentialTestRequest,
	ICredentialType,
	INodeProperties,
} from 'n8n-workflow';

/**
 * An {{ cookiecutter._n8n.label }} API token and the API's address{% if cookiecutter._n8n.instant %}, and optionally a bridge's address (the instant
 * trigger subscribes there, with the same token){% endif %}. n8n adds the Bearer header to every request
 * (`authenticate`) and checks a new credential by calling the account endpoint (`test`).
 */
export class MxGuardApi implements ICredentialType {
	name = 'mxGuardApi';

	displayName = '{{ cookiecutter._n8n.label }} API';

	icon: Icon = { light: 'file:../icons/mxguard.svg', dark: 'file:../icons/mxguard.dark.svg' };

	documentationUrl = '{{ cookiecutter._n8n.homepage }}';

	properties: INodeProperties[] = [
		{
			displayName: 'Base URL',
			name: 'baseUrl',
			type: 'string',
			required: true,
			default: {{ cookiecutter._n8n.base_url }},
			description: 'Where the {{ cookiecutter._n8n.label }} API answers (a sandbox for tests)',
		},
		{{ cookiecutter._n8n.token_property }},
{%- if cookiecutter._n8n.instant %}
		{{ cookiecutter._n8n.instant.bridge_property }},
{%- endif %}
	];

	authenticate: IAuthenticateGeneric = {{ cookiecutter._n8n.authenticate }};

	test: ICredentialTestRequest = {{ cookiecutter._n8n.test }};
}
