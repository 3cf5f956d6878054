import { beforeEach, describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import { ApiError } from '@/api/errors'
import ChatBanners from '@/components/chat/ChatBanners.vue'
import { useChatStore } from '@/stores/chat'

const LIMIT = 'You already have 3 answers running; wait for one to finish (or stop one) before starting another'

vi.mock('@/lib/chatStream', () => ({
  streamTurn: vi.fn(async () => {
    throw new ApiError(429, 'too_many_running_turns', LIMIT, { limit: 3 })
  }),
  followTurn: vi.fn(async () => undefined),
}))

const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/chat/:conversationId?', name: 'chat', component: { template: '<div/>' } }] })
const conversation = { id: 'c1', assistant_id: 'a', title: 'T', archived: false, parent_id: null, read_only: false, message_count: 4, last_activity_at: '', created_at: '', updated_at: '' }

describe('a send over the fair-use limits (429)', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it('keeps the draft and shows the server message in the chat error banner', async () => {
    const chat = useChatStore()
    chat.state.conversationId = 'c1'
    expect(await chat.send('one more')).toBe(false)
    expect(chat.state.messages).toEqual([])
    expect(chat.state.error?.code).toBe('too_many_running_turns')
    const w = mount(ChatBanners, { props: { conversation, error: chat.state.error }, global: { plugins: [router] } })
    const banner = w.get('[data-testid="chat-error"]')
    expect(banner.attributes('data-code')).toBe('too_many_running_turns')
    expect(banner.text()).toContain(LIMIT)
  })
})
