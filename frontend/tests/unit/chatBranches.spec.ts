import { beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { chatApi } from '@/api/chat'
import { ChatSocket } from '@/lib/chatSocket'
import { useChatStore } from '@/stores/chat'
import type { ThreadMessage } from '@/types/stream'
import { FakeSocket } from './fakeSocket'
import { snapshot } from './helpers'

function msg(id: string, role: 'user' | 'assistant', parent: string | null, text = id, extra: Partial<ThreadMessage> = {}): ThreadMessage {
  return { ...snapshot({ id, role, parent_id: parent, text, status: 'complete' }), version: { index: 0, count: 1, ids: [id] }, ...extra }
}

function loaded(messages: ThreadMessage[]) {
  const chat = useChatStore()
  chat.state.conversationId = 'c1'
  chat.state.messages = messages
  return chat
}

const started = (turn: string, user: ThreadMessage | null, assistant: ThreadMessage) => ({
  type: 'turn_started' as const, turn_id: turn, conversation_id: 'c1', user_message: user,
  assistant_message: { ...assistant, status: 'streaming' as const, text: '' },
})

describe('chat branches and versions', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    FakeSocket.all = []
  })

  it('a regenerated answer replaces the shown one as version 2/2', () => {
    const chat = loaded([msg('u1', 'user', null), msg('a1', 'assistant', 'u1')])
    chat.applyEvent(started('t2', null, msg('a2', 'assistant', 'u1')), 't2:1')
    expect(chat.state.messages.map((m) => m.id)).toEqual(['u1', 'a2'])
    expect(chat.state.messages[1]?.version).toEqual({ index: 1, count: 2, ids: ['a1', 'a2'] })
  })

  it('an edited question starts a new branch: later messages go, the question gets a version', () => {
    const chat = loaded([msg('u1', 'user', null), msg('a1', 'assistant', 'u1'), msg('u2', 'user', 'a1'), msg('a2', 'assistant', 'u2')])
    chat.applyEvent(started('t3', msg('u3', 'user', 'a1'), msg('a3', 'assistant', 'u3')), 't3:1')
    expect(chat.state.messages.map((m) => m.id)).toEqual(['u1', 'a1', 'u3', 'a3'])
    expect(chat.state.messages[2]?.version).toEqual({ index: 1, count: 2, ids: ['u2', 'u3'] })
    expect(chat.state.messages[3]?.version?.count).toBe(1)
  })

  it('drops repeated events after a resume and ignores the replay of a saved turn', () => {
    const chat = loaded([msg('u1', 'user', null), msg('a1', 'assistant', 'u1', 'Done')])
    chat.applyEvent(started('t1', msg('u1', 'user', null), msg('a1', 'assistant', 'u1')), 't1:1')
    chat.applyEvent({ type: 'text_delta', message_id: 'a1', text: 'Done' }, 't1:2')
    expect(chat.state.messages[1]?.text).toBe('Done')
    expect(chat.state.turn).toBeNull()

    chat.state.messages.push(msg('u2', 'user', 'a1'))
    chat.applyEvent(started('t2', null, msg('a2', 'assistant', 'u2')), 't2:1')
    chat.applyEvent({ type: 'text_delta', message_id: 'a2', text: 'Hel' }, 't2:2')
    chat.applyEvent({ type: 'text_delta', message_id: 'a2', text: 'Hel' }, 't2:2')
    chat.applyEvent({ type: 'text_delta', message_id: 'a2', text: 'lo' }, 't2:3')
    expect(chat.state.messages.at(-1)?.text).toBe('Hello')
  })

  it('ignores the replay of an edit after its branch was left (no phantom 3/3 version)', () => {
    // Thread after: send u1, send u2, edit u2 into u3 (answered a3), back to version 1/2, reload.
    const chat = loaded([
      msg('u1', 'user', null), msg('a1', 'assistant', 'u1'),
      msg('u2', 'user', 'a1', 'Name an animal.', { version: { index: 0, count: 2, ids: ['u2', 'u3'] } }),
      msg('a2', 'assistant', 'u2'),
    ])
    // The socket replays the last finished turn: the edit's.
    chat.applyEvent(started('t3', msg('u3', 'user', 'a1', 'Name a planet.'), msg('a3', 'assistant', 'u3')), 't3:1')
    chat.applyEvent({ type: 'text_delta', message_id: 'a3', text: 'Mars' }, 't3:2')
    chat.applyEvent({ type: 'turn_completed', message: { ...msg('a3', 'assistant', 'u3', 'Mars') } } as never, 't3:3')
    expect(chat.state.messages.map((m) => m.id)).toEqual(['u1', 'a1', 'u2', 'a2'])
    expect(chat.state.messages[2]?.version).toEqual({ index: 0, count: 2, ids: ['u2', 'u3'] })
    expect(chat.state.turn).toBeNull()
    expect(chat.state.ignoredTurns).toEqual(['t3'])
  })

  it('a turn still running when the chat opens is followed, not taken for a replay', () => {
    const chat = loaded([msg('u1', 'user', null), msg('a1', 'assistant', 'u1', '', { status: 'streaming' })])
    chat.applyEvent(started('t1', msg('u1', 'user', null), msg('a1', 'assistant', 'u1')), 't1:1')
    chat.applyEvent({ type: 'text_delta', message_id: 'a1', text: 'Hi' }, 't1:2')
    expect(chat.state.messages.at(-1)?.text).toBe('Hi')
    expect(chat.state.turn?.messageId).toBe('a1')
  })

  it('selecting a version shows the branch the server returns', async () => {
    const chat = loaded([msg('u1', 'user', null), msg('a2', 'assistant', 'u1', 'two', { version: { index: 1, count: 2, ids: ['a1', 'a2'] } })])
    const select = vi.spyOn(chatApi, 'select').mockResolvedValue({
      conversation_id: 'c1', active_leaf_id: 'a1', running: false,
      data: [msg('u1', 'user', null), msg('a1', 'assistant', 'u1', 'one', { version: { index: 0, count: 2, ids: ['a1', 'a2'] } })],
    } as never)
    await chat.selectVersion('a1')
    expect(select).toHaveBeenCalledWith('c1', 'a1')
    expect(chat.state.messages[1]?.text).toBe('one')
  })

  it('sends over the open socket; a budget refusal takes back the message and reports it', async () => {
    const chat = loaded([])
    const socket = new ChatSocket({ url: 'ws://x', create: (u) => new FakeSocket(u), getToken: async () => 't', onEvent: () => undefined })
    socket.start()
    await new Promise((r) => setTimeout(r, 0))
    FakeSocket.last().open()
    FakeSocket.last().server({ type: 'ready' })
    chat.attachSocket(socket)
    const sending = chat.send('hello')
    expect(chat.state.messages.map((m) => m.text)).toEqual(['hello'])
    const frame = FakeSocket.last().sent.at(-1)!
    expect(frame).toMatchObject({ type: 'send', conversation_id: 'c1', content: 'hello' })
    FakeSocket.last().server({ type: 'error', request_id: frame.request_id, error: { code: 'budget_exceeded', message: 'Monthly budget reached' } })
    expect(await sending).toBe(false)
    expect(chat.state.messages).toEqual([])
    expect(chat.state.error).toEqual({ code: 'budget_exceeded', message: 'Monthly budget reached' })
    expect(chat.isStreaming).toBe(false)
  })

  it('follows the chat to its continuation when its own send reached the message cap', () => {
    const chat = loaded([msg('u1', 'user', null)])
    chat.state.turn = { turnId: null, messageId: null, queuePosition: null, activity: null }
    chat.applyEvent({ type: 'conversation_continued', conversation_id: 'c1', continued_in_id: 'c2', summary_source: 'model' }, 'old:1')
    expect(chat.state.continuedIn).toBe('c2')
    expect(chat.state.followContinuation).toBe(true)
    const other = loaded([])
    other.state.continuedIn = null
    other.applyEvent({ ...started('t9', msg('u9', 'user', null), msg('a9', 'assistant', 'u9')), conversation_id: 'c2', continued_from: 'c1' }, 't9:1')
    expect(other.state.continuedIn).toBe('c2')
    expect(other.state.followContinuation).toBe(true)
    expect(other.state.messages).toEqual([])
  })

  it('opening a continued conversation (its event replayed) or another tab reaching the cap does not navigate', () => {
    const chat = loaded([msg('u1', 'user', null)])
    chat.applyEvent({ type: 'conversation_continued', conversation_id: 'c1', continued_in_id: 'c2', summary_source: 'model' }, 'old:1')
    expect(chat.state.continuedIn).toBe('c2')
    expect(chat.state.followContinuation).toBe(false)
  })

  it('stops over the socket when it is open, else over HTTP', async () => {
    const chat = loaded([])
    chat.state.turn = { turnId: 't', messageId: 'a', queuePosition: null, activity: null }
    const stop = vi.spyOn(chatApi, 'stop').mockResolvedValue({ stopped: true })
    chat.stop()
    expect(stop).toHaveBeenCalledWith('c1')
  })
})
