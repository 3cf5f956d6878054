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

describe('the admin fair-use limits', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it('shows the saved limits and saves the edited ones', async () => {
    const { useAdminStore } = await import('@/stores/admin')
    const FairUseSettings = (await import('@/components/admin/FairUseSettings.vue')).default
    const admin = useAdminStore()
    admin.settings = { registration_open: true, registration_requires_approval: false, max_concurrent_turns: 3,
                       turns_per_minute: 20, uploads_per_minute: 30 }
    const saved: unknown[] = []
    admin.updateSettings = vi.fn(async (body) => { saved.push(body) })
    const w = mount(FairUseSettings)
    const inputs = w.findAll('input[type="number"]')
    expect(inputs.map((i) => (i.element as HTMLInputElement).value)).toEqual(['3', '20', '30'])
    await inputs[2]!.setValue('5')
    await w.get('form').trigger('submit')
    expect(saved).toEqual([{ max_concurrent_turns: 3, turns_per_minute: 20, uploads_per_minute: 5 }])
  })
})
