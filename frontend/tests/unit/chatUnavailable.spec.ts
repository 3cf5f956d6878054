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
