import { beforeEach, describe, expect, it } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import ChatModelSwitcher from '@/components/chat/ChatModelSwitcher.vue'
import ChatThread from '@/components/chat/ChatThread.vue'
import MessageActions from '@/components/chat/MessageActions.vue'
import MessageBubble from '@/components/chat/MessageBubble.vue'
import { useChatStore } from '@/stores/chat'
import type { ModelInfo } from '@/types/models'
import { snapshot } from './helpers'

const model = (id: string, name: string): ModelInfo => ({
  id, provider: id.split('/')[0] ?? '', name, local: false, context_length: 128000, max_output_tokens: 4096,
  tools: true, vision: false, hosted_tools: [],
})
const options = [model('openai/gpt-4o-mini', 'GPT-4o mini'), model('openai/gpt-4o', 'GPT-4o'), model('openai/gpt-5-mini', 'GPT-5 mini')]
const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/chat/:conversationId?', name: 'chat', component: { template: '<div/>' } }] })
const conversation = {
  id: 'c1', assistant_id: 'a1', title: 'T', archived: false, parent_id: null, read_only: false, message_count: 2,
  last_activity_at: '', created_at: '', updated_at: '', model: null as string | null,
}

describe('the model switcher in the chat header', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it("shows the assistant's model until the conversation has its own, and offers the provider's models", async () => {
    const w = mount(ChatModelSwitcher, { props: { model: null, assistantModel: 'openai/gpt-4o-mini', options }, attachTo: document.body })
    expect(w.get('[data-testid="chat-model"]').text()).toBe('GPT-4o mini')
    await w.get('[data-testid="chat-model"]').trigger('click')
    const items = w.findAll('[role="option"]')
    expect(items.map((o) => o.text())).toEqual([
      "GPT-4o miniThe assistant's model", 'GPT-4oopenai/gpt-4o', 'GPT-5 miniopenai/gpt-5-mini'])
    expect(items[0]!.attributes('aria-selected')).toBe('true')
    await items[1]!.trigger('click')
    expect(w.emitted('change')).toEqual([['openai/gpt-4o']])
    w.unmount()
  })

  it('choosing the assistant entry goes back to the assistant model (null); the current choice is not re-sent', async () => {
    const w = mount(ChatModelSwitcher, { props: { model: 'openai/gpt-4o', assistantModel: 'openai/gpt-4o-mini', options }, attachTo: document.body })
    expect(w.get('[data-testid="chat-model"]').text()).toBe('GPT-4o')
    await w.get('[data-testid="chat-model"]').trigger('click')
    const items = w.findAll('[role="option"]')
    expect(items[1]!.attributes('aria-selected')).toBe('true')
    await items[1]!.trigger('click') // already chosen
    expect(w.emitted('change')).toBeUndefined()
    await w.get('[data-testid="chat-model"]').trigger('click')
    await w.findAll('[role="option"]')[0]!.trigger('click')
    expect(w.emitted('change')).toEqual([[null]])
    w.unmount()
  })

  it('a model missing from the list is shown by its id; a disabled switcher does not open', async () => {
    const w = mount(ChatModelSwitcher, { props: { model: 'openai/retired', assistantModel: 'openai/gpt-4o-mini', options, disabled: true } })
    const button = w.get('[data-testid="chat-model"]')
    expect(button.text()).toBe('openai/retired')
    expect(button.attributes('disabled')).toBeDefined()
    await button.trigger('click')
    expect(w.findAll('[role="option"]')).toHaveLength(0)
  })

  it('sits in the header of a usable conversation and is locked while an answer streams', async () => {
    const pinia = createPinia()
    setActivePinia(pinia)
    const chat = useChatStore()
    chat.state.conversationId = 'c1'
    const props = {
      conversation: { ...conversation, model: 'openai/gpt-4o' }, assistantName: 'Helper', loadError: null,
      connection: 'open' as const, modelValue: '', assistantModel: 'openai/gpt-4o-mini', modelOptions: options,
    }
    const w = mount(ChatThread, { props, global: { plugins: [pinia, router] } })
    expect(w.get('header [data-testid="chat-model"]').text()).toBe('GPT-4o')
    expect(w.get('[data-testid="chat-model"]').attributes('disabled')).toBeUndefined()
    chat.state.turn = { turnId: 't1', messageId: 'a1', queuePosition: null, activity: null }
    chat.state.messages = [snapshot({ id: 'a1', status: 'streaming' })]
    await flushPromises()
    expect(chat.isStreaming).toBe(true)
    expect(w.get('[data-testid="chat-model"]').attributes('disabled')).toBeDefined()
    // a deleted assistant: no switcher
    const gone = mount(ChatThread, { props: { ...props, conversation: { ...props.conversation, assistant_id: null as unknown as string } }, global: { plugins: [pinia, router] } })
    expect(gone.find('[data-testid="chat-model"]').exists()).toBe(false)
  })
})

describe('an answer whose reply the budget capped', () => {
  const capped = (finish: string) => snapshot({
    id: 'a1', role: 'assistant', text: 'Four', status: 'complete', model: 'openai/gpt-4o',
    usage: { input_tokens: 20, output_tokens: 80, reply_capped_to: 80, finish_reason: finish, cost_micros: 51 },
  })

  it('says so in its footer, and the cost popover names the model and the limit', async () => {
    const w = mount(MessageActions, { props: { message: capped('length'), busy: false }, attachTo: document.body })
    expect(w.get('[data-testid="message-footer-model"]').text()).toBe('gpt-4o')
    expect(w.get('[data-testid="message-footer-model"]').attributes('title')).toBe('Written by openai/gpt-4o')
    const note = w.get('[data-testid="reply-capped"]')
    expect(note.text()).toBe('reply shortened to fit your budget')
    expect(note.attributes('title')).toContain('at most 80 output tokens')
    await w.get('button[aria-label="Tokens and cost"]').trigger('click')
    expect(w.get('[data-testid="message-model"]').text()).toBe('openai/gpt-4o')
    expect(w.get('[data-testid="message-info"]').text()).toContain('Reply limited to 80 output tokens to fit your budget.')
    w.unmount()
  })

  it('an uncapped answer has no such note; a capped one is not also called cut off by the assistant limit', () => {
    const plain = snapshot({ id: 'a2', role: 'assistant', text: 'x', status: 'complete', usage: { finish_reason: 'length' } })
    expect(mount(MessageActions, { props: { message: plain, busy: false } }).find('[data-testid="reply-capped"]').exists()).toBe(false)
    expect(mount(MessageBubble, { props: { message: plain } }).find('[data-testid="message-cut-off"]').exists()).toBe(true)
    const bubble = mount(MessageBubble, { props: { message: capped('length') } })
    expect(bubble.find('[data-testid="message-cut-off"]').exists()).toBe(false)
    expect(bubble.get('[data-testid="reply-capped"]').text()).toBe('reply shortened to fit your budget')
  })
})
