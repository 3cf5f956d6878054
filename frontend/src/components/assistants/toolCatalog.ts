import type { AssistantToolSpec } from '@/api/types'

export type ToolType = AssistantToolSpec['type']

export const TOOL_TYPES: { type: ToolType; label: string; help: string }[] = [
  { type: 'file_search', label: 'File search', help: 'Search your knowledge bases.' },
  { type: 'code_interpreter', label: 'Code interpreter', help: 'Run Python in a sandbox.' },
  { type: 'web_search', label: 'Web search', help: 'Look things up on the web.' },
  { type: 'function', label: 'Function', help: 'A function you describe with a JSON schema.' },
  { type: 'assistant', label: 'Assistant', help: 'Another of your assistants, called as a tool or taking over.' },
  { type: 'mcp', label: 'MCP server', help: 'Tools of an MCP server an administrator registered.' },
]

export function toolLabel(tool: AssistantToolSpec): string {
  if (tool.type === 'function') return tool.name ? `Function ${tool.name}` : 'Function'
  if (tool.type === 'assistant') return tool.mode === 'handoff' ? 'Handoff' : 'Sub-assistant'
  if (tool.type === 'mcp') return `MCP ${tool.server}`
  return TOOL_TYPES.find((t) => t.type === tool.type)?.label ?? tool.type
}

export function newTool(type: ToolType): AssistantToolSpec {
  switch (type) {
    case 'function':
      return { type, name: '', description: '', parameters: { type: 'object', properties: {} } }
    case 'assistant':
      return { type, assistant_id: '', mode: 'call' }
    case 'mcp':
      return { type, server: '', tools: [] }
    case 'file_search':
      return { type, knowledge_base_ids: [], top_k: 5, threshold: null }
    default:
      return { type }
  }
}
