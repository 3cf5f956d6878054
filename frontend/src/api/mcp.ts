import { client, unwrap } from '@/api/client'

export const mcpApi = {
  /** The enabled MCP servers and their tools, for an assistant's tools. */
  catalog: () => unwrap(client.GET('/api/mcp-servers')),
}
