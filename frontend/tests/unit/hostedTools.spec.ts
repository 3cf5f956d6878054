import { describe, expect, it } from 'vitest'
import { reactive } from 'vue'
import { mount } from '@vue/test-utils'
import HostedToolFields from '@/components/assistants/HostedToolFields.vue'
import ToolCallCard from '@/components/chat/ToolCallCard.vue'
import MessageParts from '@/components/chat/MessageParts.vue'
import type { components } from '@/api/schema'
import type { MessageSnapshot, ToolCallPart } from '@/types/stream'
import { snapshot } from './helpers'

type FileSearchTool = components['schemas']['FileSearchTool']

describe('hosted tools', () => {
  it('a hosted call is marked on its card, with its query and cost', () => {
    const part: ToolCallPart = {
      type: 'tool_call', call_id: 'ws_1', name: 'web_search', arguments: '{"query": "weather paris"}',
      status: 'complete', output: 'Searched: weather paris (1 sources)', cost_micros: 10_000, hosted: true,
      result_parts: [{ type: 'citation', url: 'https://meteo.example/paris', title: 'Paris weather' }],
    }
    const w = mount(ToolCallCard, { props: { part } })
    expect(w.get('[data-testid="tool-call-hosted"]').text()).toBe('on the provider')
    expect(w.text()).toContain('$0.01')
    const own = mount(ToolCallCard, { props: { part: { ...part, hosted: false } } })
    expect(own.find('[data-testid="tool-call-hosted"]').exists()).toBe(false)
  })

  it('the citations of a hosted search show under the answer', () => {
    const content: MessageSnapshot['content'] = [
      { type: 'tool_call', call_id: 'ws_1', name: 'web_search', status: 'complete', hosted: true },
      { type: 'text', text: 'Sunny.' },
      { type: 'citation', url: 'https://meteo.example/paris', title: 'Paris weather' },
    ]
    const w = mount(MessageParts, { props: { message: snapshot({ id: 'a1', text: 'Sunny.', status: 'complete', content }) } })
    expect(w.text()).toContain('Paris weather')
  })

  it('chooses where the tool runs and which vector stores file search reads', async () => {
    const tool = reactive<FileSearchTool>({ type: 'file_search', knowledge_base_ids: [] })
    const w = mount(HostedToolFields, { props: { tool, errors: {}, prefix: 'tools.0', hostedByModel: true } })
    const select = w.get('select')
    expect((select.element as HTMLSelectElement).value).toBe('auto')
    await w.get('input').setValue('vs_one, vs_two')
    expect(tool.vector_store_ids).toEqual(['vs_one', 'vs_two'])
    await select.setValue('server')
    expect(tool.hosting).toBe('server')
    expect(w.find('input').exists()).toBe(false)  // no provider stores when it runs on this server
    await select.setValue('auto')
    expect('hosting' in tool).toBe(false)  // the default is left out of the saved config
  })

  it('says when the model cannot run the tool on its provider, and shows a refused store', () => {
    const tool: FileSearchTool = { type: 'file_search', hosting: 'provider', vector_store_ids: ['vs_x'] }
    const w = mount(HostedToolFields, {
      props: { tool, errors: { 'tools.0.vector_store_ids.0': 'Vector store not found' }, prefix: 'tools.0', hostedByModel: false },
    })
    expect(w.text()).toContain('it is left out')
    expect(w.text()).toContain('Vector store not found')
    expect(w.get('input').attributes('aria-invalid')).toBe('true')
  })

  it('a citation that is not a web URL is shown as text, never as a link', () => {
    const content: MessageSnapshot['content'] = [
      { type: 'text', text: 'Hi.' },
      { type: 'citation', url: 'javascript:alert(1)', title: 'Bad' },
      { type: 'citation', url: 'https://ok.example/', title: 'Good' },
    ]
    const w = mount(MessageParts, { props: { message: snapshot({ id: 'a1', text: 'Hi.', status: 'complete', content }) } })
    const links = w.findAll('[data-testid="message-sources"] a')
    expect(links.map((a) => a.attributes('href'))).toEqual(['https://ok.example/'])
    expect(w.get('[data-testid="message-sources"]').text()).toContain('Bad')
  })
})
