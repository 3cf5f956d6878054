import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ChatSocket, FrameError, type ChatSocketOptions } from '@/lib/chatSocket'
import type { TurnEvent } from '@/types/stream'
import { FakeSocket } from './fakeSocket'

const flush = () => new Promise((r) => setTimeout(r, 0))

function make(over: Partial<ChatSocketOptions> = {}) {
  const events: [string, string, TurnEvent][] = []
  const statuses: string[] = []
  const socket = new ChatSocket({
    url: 'ws://x/api/ws', create: (url) => new FakeSocket(url), getToken: async () => 'tok1',
    onEvent: (c, id, e) => events.push([c, id, e]), onStatus: (s) => statuses.push(s), baseDelayMs: 100, ...over,
  })
  return { socket, events, statuses }
}

async function connect(socket: ChatSocket): Promise<FakeSocket> {
  socket.start()
  await flush()
  const ws = FakeSocket.last()
  ws.open()
  ws.server({ type: 'ready', user_id: 'u1' })
  return ws
}

const delta = (id: string, text: string) => ({
  type: 'event', conversation_id: 'c1', id, event: { type: 'text_delta', message_id: 'a1', text },
})

describe('ChatSocket', () => {
  beforeEach(() => {
    FakeSocket.all = []
  })
  afterEach(() => vi.useRealTimers())

  it('authenticates with the first frame, then subscribes and forwards events', async () => {
    const { socket, events, statuses } = make()
    socket.subscribe('c1')
    const ws = await connect(socket)
    expect(ws.sent[0]).toEqual({ type: 'auth', token: 'tok1' })
    expect(ws.sent[1]).toEqual({ type: 'subscribe', conversation_id: 'c1' })
    ws.server(delta('t1:2', 'Hi'))
    expect(events).toEqual([['c1', 't1:2', { type: 'text_delta', message_id: 'a1', text: 'Hi' }]])
    expect(statuses).toEqual(['connecting', 'open'])
  })

  it('resolves a request on its ack and rejects on an error frame', async () => {
    const { socket } = make()
    const ws = await connect(socket)
    const ok = socket.request({ type: 'send', conversation_id: 'c1', content: 'hi' })
    const sent = ws.sent.at(-1)!
    ws.server({ type: 'ack', request_id: sent.request_id, of: 'send' })
    await expect(ok).resolves.toMatchObject({ of: 'send' })
    const refused = socket.request({ type: 'send', conversation_id: 'c1', content: 'hi' })
    ws.server({ type: 'error', request_id: ws.sent.at(-1)!.request_id, error: { code: 'budget_exceeded', message: 'Over budget' } })
    await expect(refused).rejects.toBeInstanceOf(FrameError)
    await expect(refused).rejects.toMatchObject({ code: 'budget_exceeded', message: 'Over budget' })
  })

  it('rejects requests while not connected', async () => {
    const { socket } = make()
    await expect(socket.request({ type: 'stop' })).rejects.toThrow('not connected')
  })

  it('reconnects with growing backoff and resumes from the last event id', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5)
    const reconnected = vi.fn()
    const { socket, statuses } = make({ onReconnected: reconnected })
    socket.subscribe('c1')
    const ws = await connect(socket)
    ws.server(delta('t1:5', 'a'))
    const pending = socket.request({ type: 'send', conversation_id: 'c1', content: 'x' })
    vi.useFakeTimers()
    ws.drop()
    await expect(pending).rejects.toThrow('lost')
    expect(statuses.at(-1)).toBe('reconnecting')
    await vi.advanceTimersByTimeAsync(99)
    expect(FakeSocket.all).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(FakeSocket.all).toHaveLength(2)
    FakeSocket.last().drop() // fails again: the next wait doubles
    await vi.advanceTimersByTimeAsync(199)
    expect(FakeSocket.all).toHaveLength(2)
    await vi.advanceTimersByTimeAsync(1)
    const again = FakeSocket.last()
    again.open()
    again.server({ type: 'ready' })
    expect(again.sent[1]).toEqual({ type: 'subscribe', conversation_id: 'c1', last_event_id: 't1:5' })
    expect(reconnected).toHaveBeenCalledOnce()
    expect(socket.attempts).toBe(0)
    socket.stop()
  })

  it('swaps in a refreshed token and stops when the server refuses it for good', async () => {
    const { socket } = make({ onAuthRejected: async () => false })
    const ws = await connect(socket)
    socket.setToken('tok2')
    expect(ws.sent.at(-1)).toEqual({ type: 'auth', token: 'tok2' })
    ws.drop(1008)
    await flush()
    expect(socket.status).toBe('closed')
    expect(FakeSocket.all).toHaveLength(1)
  })

  it('unsubscribes and closes cleanly', async () => {
    const { socket } = make()
    socket.subscribe('c1')
    const ws = await connect(socket)
    socket.unsubscribe('c1')
    expect(ws.sent.at(-1)).toEqual({ type: 'unsubscribe', conversation_id: 'c1' })
    socket.stop()
    expect(socket.status).toBe('closed')
    ws.drop()
    expect(FakeSocket.all).toHaveLength(1)
  })
})
