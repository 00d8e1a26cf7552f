/**
 * Errors as n8n shows them: API answers keep their status and message, anything else (a bad
 * input, a network failure) becomes an operation error tied to the item that caused it.
 */

import { NodeApiError, NodeOperationError, type INode } from 'n8n-workflow';

export function asNodeError(node: INode, error: unknown, itemIndex?: number): NodeApiError | NodeOperationError {
	if (error instanceof NodeApiError || error instanceof NodeOperationError) return error;
	return new NodeOperationError(node, error as Error, { itemIndex });
}
