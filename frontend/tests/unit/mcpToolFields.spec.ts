import { describe, expect, it, vi } from 'vitest'
import { reactive } from 'vue'
import { flushPromises, mount } from '@vue/test-utils'
import McpToolFields from '@/components/assistants/McpToolFields.vue'
import { mcpApi } from '@/api/mcp'

const catalog = {
  count: 2,
  data: [
    { id: 's1', name: 'docs', description: 'Team docs', error: null, tools: [
      { name: 'search', function_name: 'mcp_docs__search', description: 'Search the docs', input_schema: {} },
      { name: 'fetch', function_name: 'mcp_docs__fetch', description: 'Fetch a page', input_schema: {} }] },
    { id: 's2', name: 'down', description: '', tools: [], error: { code: 'mcp_unreachable', message: 'Connection refused' } },
  ],
}

describe('McpToolFields', () => {
  it('picks a server and ticks some of its tools', async () => {
    vi.spyOn(mcpApi, 'catalog').mockResolvedValue(catalog as never)
    const tool = reactive({ type: 'mcp' as const, server: '', tools: [] as string[] })
    const view = mount(McpToolFields, { props: { tool, errors: {}, prefix: 'tools.0' } })
    await flushPromises()
    await view.get('select').setValue('docs')
    const boxes = view.findAll('input[type="checkbox"]')
    expect(boxes.map((b) => b.element.parentElement?.textContent)).toEqual([
      expect.stringContaining('search'), expect.stringContaining('fetch')])
    await boxes[1]!.setValue(true)
    expect(tool.tools).toEqual(['fetch'])
  })

  it('says when a server cannot be reached', async () => {
    vi.spyOn(mcpApi, 'catalog').mockResolvedValue(catalog as never)
    const view = mount(McpToolFields, { props: { tool: { type: 'mcp', server: 'down', tools: [] }, errors: {}, prefix: 'tools.0' } })
    await flushPromises()
    expect(view.text()).toContain('cannot be reached right now (Connection refused)')
  })
})
