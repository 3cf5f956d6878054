import { beforeEach, describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import ChatThread from '@/components/chat/ChatThread.vue'
import { useChatStore } from '@/stores/chat'

const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/chat/:conversationId?', name: 'chat', component: { template: '<div/>' } }] })
const conversation = {
  id: 'c1', assistant_id: 'a1', title: 'T', archived: false, parent_id: null, read_only: false, message_count: 2,
  last_activity_at: '', created_at: '', updated_at: '',
}

function mountThread(conv: typeof conversation | null) {
  const pinia = createPinia()
  setActivePinia(pinia)
  useChatStore().state.conversationId = 'c1'
  return mount(ChatThread, {
    props: { conversation: conv, assistantName: 'x', loadError: null, connection: 'open', modelValue: 'hi' },
    global: { plugins: [pinia, router] },
  })
}

describe('a conversation that cannot continue', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it('says up front that its assistant was deleted, locks the composer and offers a new chat', () => {
    const w = mountThread({ ...conversation, assistant_id: null as unknown as string })
    const banner = w.get('[data-testid="assistant-gone-banner"]')
    expect(banner.text()).toContain('Its assistant was deleted')
    expect(banner.get('a').text()).toBe('Start a new chat with another assistant')
    expect(banner.get('a').attributes('href')).toBe('/chat')
    expect(w.get('textarea').attributes('disabled')).toBeDefined()
    expect(w.get('button[type="submit"]').attributes('disabled')).toBeDefined()
  })

  it('a usable conversation has an enabled composer; none before the conversation is known', () => {
    const ok = mountThread(conversation)
    expect(ok.find('[data-testid="assistant-gone-banner"]').exists()).toBe(false)
    expect(ok.get('textarea').attributes('disabled')).toBeUndefined()
    expect(ok.get('button[type="submit"]').attributes('disabled')).toBeUndefined()
    const loading = mountThread(null)
    expect(loading.get('button[type="submit"]').attributes('disabled')).toBeDefined()
  })
})

describe('the streamed answer is announced once', () => {
  it('the live region stays quiet while tokens arrive and speaks the whole answer when it ends', async () => {
    const { snapshot } = await import('./helpers')
    const MessageList = (await import('@/components/chat/MessageList.vue')).default
    const q = snapshot({ id: 'u1', role: 'user', text: 'Hi', status: 'complete' })
    const streaming = (text: string) => snapshot({ id: 'a1', role: 'assistant', text, status: 'streaming' })
    const turn = { turnId: 't1', messageId: 'a1', queuePosition: null, activity: null }
    const w = mount(MessageList, { props: { messages: [q, streaming('')], turn, loading: false } })
    const region = () => w.get('[data-testid="answer-announcer"]')
    expect(region().attributes('aria-live')).toBe('polite')
    const said: string[] = []
    for (const text of ['Hel', 'Hello', 'Hello there']) {
      await w.setProps({ messages: [q, streaming(text)] })
      said.push(region().text())
    }
    expect(said).toEqual(['', '', ''])
    expect(w.findAll('[aria-live]')).toHaveLength(1)
    await w.setProps({ messages: [q, snapshot({ id: 'a1', role: 'assistant', text: 'Hello there', status: 'complete' })], turn: null })
    expect(region().text()).toBe('Answer: Hello there')
  })
})
