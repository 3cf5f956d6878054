import { beforeEach, describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import { ApiError } from '@/api/errors'
import ChatBanners from '@/components/chat/ChatBanners.vue'
import { ChatSocket } from '@/lib/chatSocket'
import { useChatStore } from '@/stores/chat'
import { continuedInOf } from '@/types/stream'
import { FakeSocket } from './fakeSocket'

vi.mock('@/lib/chatStream', () => ({
  streamTurn: vi.fn(async () => {
    throw new ApiError(409, 'conversation_read_only', 'This conversation reached its message limit and continues in another one; send there.', { continued_in_id: 'c2' })
  }),
  followTurn: vi.fn(async () => undefined),
}))

const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/chat/:conversationId?', name: 'chat', component: { template: '<div/>' } }] })
const conversation = { id: 'c1', assistant_id: 'a', title: 'T', archived: false, parent_id: null, read_only: false, message_count: 4, last_activity_at: '', created_at: '', updated_at: '' }

function opened() {
  const chat = useChatStore()
  chat.state.conversationId = 'c1'
  return chat
}

describe('a send to a conversation that continued elsewhere (409 conversation_read_only)', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    FakeSocket.all = []
  })

  it('over SSE: the refusal keeps the draft and names the continuation', async () => {
    const chat = opened()
    expect(await chat.send('one more')).toBe(false)
    expect(chat.state.messages).toEqual([])
    expect(chat.state.error?.code).toBe('conversation_read_only')
    expect(continuedInOf(chat.state.error)).toBe('c2')
    expect(chat.isStreaming).toBe(false)
  })

  it('over WebSocket: an error frame without details names no continuation (the page reloads the conversation)', async () => {
    const chat = opened()
    const socket = new ChatSocket({ url: 'ws://x', create: (u) => new FakeSocket(u), getToken: async () => 't', onEvent: () => undefined })
    socket.start()
    await new Promise((r) => setTimeout(r, 0))
    FakeSocket.last().open()
    FakeSocket.last().server({ type: 'ready' })
    chat.attachSocket(socket)
    const sending = chat.send('one more')
    const frame = FakeSocket.last().sent.at(-1)!
    FakeSocket.last().server({ type: 'error', request_id: frame.request_id, error: { code: 'conversation_read_only', message: 'Read-only' } })
    expect(await sending).toBe(false)
    expect(chat.state.error).toEqual({ code: 'conversation_read_only', message: 'Read-only' })
    expect(continuedInOf(chat.state.error)).toBeNull()
  })

  it('the banner links to the continuation from error.details, without the generic error', () => {
    const error = { code: 'conversation_read_only', message: 'send there', details: { continued_in_id: 'c2' } }
    const w = mount(ChatBanners, { props: { conversation, error }, global: { plugins: [router] } })
    const banner = w.get('[data-testid="continued-banner"]')
    expect(banner.attributes('data-refused')).toBe('true')
    expect(banner.text()).toContain('Your message was not sent')
    expect(banner.get('a').attributes('href')).toBe('/chat/c2')
    expect(w.find('[data-testid="chat-error"]').exists()).toBe(false)
  })

  it('a continuation says what it continues and shows the summary on demand', () => {
    const w = mount(ChatBanners, {
      props: { conversation: { ...conversation, id: 'c2', parent_id: 'c1', summary: 'The user asked about cats.' }, error: null },
      global: { plugins: [router] },
    })
    const banner = w.get('[data-testid="continues-banner"]')
    expect(banner.get('a').attributes('href')).toBe('/chat/c1')
    expect(banner.get('[data-testid="continuation-summary"]').text()).toBe('The user asked about cats.')
  })
})
