/**
 * The chat WebSocket (`/api/ws`, docs/streaming.md): authenticates with the first frame, follows
 * subscribed conversations, reconnects with backoff and resumes each one from the last event id.
 * Framework-free so it can be unit-tested with a fake socket; the useChatSocket composable owns it.
 */
import { parseTurnEvent, type ErrorInfo, type TurnEvent } from '@/types/stream'

/** The part of the browser's WebSocket this client uses. */
export interface SocketLike {
  readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  onopen: ((ev: unknown) => void) | null
  onmessage: ((ev: { data: unknown }) => void) | null
  onclose: ((ev: { code: number }) => void) | null
  onerror: ((ev: unknown) => void) | null
}

export type SocketStatus = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed'
export type ChatFrame = Record<string, unknown> & { type: string }

export interface ChatSocketOptions {
  url: string
  create?: (url: string) => SocketLike
  /** The access token for the auth frame (null: signed out, do not connect). */
  getToken: () => Promise<string | null>
  onEvent: (conversationId: string, id: string, event: TurnEvent) => void
  onStatus?: (status: SocketStatus) => void
  /** The server closed with 1008 (token refused): return false to stop reconnecting. */
  onAuthRejected?: () => Promise<boolean>
  /** Reconnected after a drop: a chance to resync state that may have moved meanwhile. */
  onReconnected?: () => void
  baseDelayMs?: number
  maxDelayMs?: number
}

export class FrameError extends Error {
  readonly code: string
  readonly details: Record<string, unknown> | undefined
  constructor(error: ErrorInfo) {
    super(error.message)
    this.code = error.code
    this.details = error.details ?? undefined
  }
}

interface Pending {
  resolve: (frame: ChatFrame) => void
  reject: (error: Error) => void
}

const OPEN = 1
const POLICY_VIOLATION = 1008

export class ChatSocket {
  status: SocketStatus = 'idle'
  attempts = 0
  private ws: SocketLike | null = null
  private stopped = true
  private everOpened = false
  private timer: ReturnType<typeof setTimeout> | null = null
  private seq = 0
  private readonly pending = new Map<string, Pending>()
  /** Followed conversations and the last event id seen in each (null: none yet). */
  private readonly subs = new Map<string, string | null>()

  constructor(private readonly opts: ChatSocketOptions) {}

  get isOpen(): boolean {
    return this.status === 'open'
  }

  start(): void {
    if (!this.stopped) return
    this.stopped = false
    void this.connect()
  }

  stop(): void {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    const ws = this.ws
    this.ws = null
    if (ws) {
      ws.onclose = null
      ws.close(1000, 'bye')
    }
    this.failPending('The connection was closed')
    this.setStatus('closed')
  }

  subscribe(conversationId: string, lastEventId: string | null = null): void {
    this.subs.set(conversationId, lastEventId ?? this.subs.get(conversationId) ?? null)
    if (this.isOpen) this.write(this.subscribeFrame(conversationId))
  }

  unsubscribe(conversationId: string): void {
    if (!this.subs.delete(conversationId)) return
    if (this.isOpen) this.write({ type: 'unsubscribe', conversation_id: conversationId })
  }

  /** Swap in a refreshed access token on the open socket. */
  setToken(token: string): void {
    if (this.isOpen) this.write({ type: 'auth', token })
  }

  /** Send a frame and wait for its ack; rejects with FrameError on an error frame. */
  request(frame: ChatFrame): Promise<ChatFrame> {
    if (!this.isOpen) return Promise.reject(new Error('not connected'))
    const request_id = `r${++this.seq}`
    return new Promise((resolve, reject) => {
      this.pending.set(request_id, { resolve, reject })
      this.write({ ...frame, request_id })
    })
  }

  private subscribeFrame(conversationId: string): ChatFrame {
    const last = this.subs.get(conversationId)
    return last ? { type: 'subscribe', conversation_id: conversationId, last_event_id: last }
      : { type: 'subscribe', conversation_id: conversationId }
  }

  private write(frame: ChatFrame): void {
    if (this.ws?.readyState === OPEN) this.ws.send(JSON.stringify(frame))
  }

  private setStatus(status: SocketStatus): void {
    this.status = status
    this.opts.onStatus?.(status)
  }

  private async connect(): Promise<void> {
    this.timer = null
    const token = await this.opts.getToken()
    if (this.stopped) return
    if (!token) return this.setStatus('closed')
    this.setStatus(this.attempts ? 'reconnecting' : 'connecting')
    const ws = (this.opts.create ?? ((url) => new WebSocket(url) as unknown as SocketLike))(this.opts.url)
    this.ws = ws
    ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token }))
    ws.onmessage = (ev) => this.receive(ev.data)
    ws.onerror = () => undefined
    ws.onclose = (ev) => void this.dropped(ev.code)
  }

  private receive(data: unknown): void {
    let frame: ChatFrame
    try {
      frame = JSON.parse(String(data)) as ChatFrame
    } catch {
      return
    }
    if (frame.type === 'ready') return this.ready()
    if (frame.type === 'event') return this.event(frame)
    const id = typeof frame.request_id === 'string' ? frame.request_id : null
    const waiter = id ? this.pending.get(id) : undefined
    if (!waiter || !id) return
    this.pending.delete(id)
    if (frame.type === 'error') waiter.reject(new FrameError(frame.error as ErrorInfo))
    else waiter.resolve(frame)
  }

  private ready(): void {
    const reconnected = this.everOpened
    this.everOpened = true
    this.attempts = 0
    this.setStatus('open')
    for (const id of this.subs.keys()) this.write(this.subscribeFrame(id))
    if (reconnected) this.opts.onReconnected?.()
  }

  private event(frame: ChatFrame): void {
    const conversationId = String(frame.conversation_id)
    const id = String(frame.id)
    if (this.subs.has(conversationId)) this.subs.set(conversationId, id)
    const event = parseTurnEvent(frame.event)
    if (event) this.opts.onEvent(conversationId, id, event)
  }

  private failPending(message: string): void {
    for (const waiter of this.pending.values()) waiter.reject(new Error(message))
    this.pending.clear()
  }

  private async dropped(code: number): Promise<void> {
    this.ws = null
    this.failPending('The connection was lost')
    if (this.stopped) return
    if (code === POLICY_VIOLATION && this.opts.onAuthRejected && !(await this.opts.onAuthRejected())) {
      this.stopped = true
      return this.setStatus('closed')
    }
    this.setStatus('reconnecting')
    const base = this.opts.baseDelayMs ?? 500
    const delay = Math.min(this.opts.maxDelayMs ?? 15_000, base * 2 ** this.attempts)
    this.attempts += 1
    this.timer = setTimeout(() => void this.connect(), delay * (0.8 + Math.random() * 0.4))
  }
}
