/**
 * Backend descriptors: data that says where a tool runs. The runner maps a descriptor to
 * an executable backend by `kind` and `name`, so an index can be built, serialized and
 * searched without holding any live connection.
 */

export const BACKEND_KINDS = ['local', 'provider', 'mcp', 'sandbox'] as const;
export type BackendKind = (typeof BACKEND_KINDS)[number];

export interface LocalBackendDescriptor {
  kind: 'local';
  /** Name of the local registry; `"local"` unless several are used. */
  name: string;
}

export interface ProviderBackendDescriptor {
  kind: 'provider';
  /** Name of the provider as registered with the runner. */
  name: string;
  /** The provider's own identifier for the tool, when it differs from the tool ID. */
  providerToolId?: string;
}

export interface McpBackendDescriptor {
  kind: 'mcp';
  /** The MCP server's name in the `mcpServers` config. */
  name: string;
  /** The tool's name on that server (before namespacing). */
  tool: string;
}

export interface SandboxBackendDescriptor {
  kind: 'sandbox';
  name: string;
}

export type BackendDescriptor =
  | LocalBackendDescriptor
  | ProviderBackendDescriptor
  | McpBackendDescriptor
  | SandboxBackendDescriptor;

/** Default preference when a tool has several backends. */
export const DEFAULT_BACKEND_ORDER: readonly BackendKind[] = ['local', 'provider', 'mcp', 'sandbox'];

export function describeBackend(d: { kind: string; name: string }): string {
  return `${d.kind}:${d.name}`;
}
