import { computed, reactive, shallowRef } from 'vue'
import { defineStore } from 'pinia'
import { chatApi } from '@/api/chat'
import { ApiError, errorMessage } from '@/api/errors'
import type { FilePublic, ThreadPublic } from '@/api/types'
import { fileParts } from '@/lib/fileParts'
import { FrameError, type ChatFrame, type ChatSocket } from '@/lib/chatSocket'
import { followTurn, streamTurn } from '@/lib/chatStream'
import { features } from '@/lib/features'
import { accept, emptyChatState, reduce, type ChatState } from '@/stores/chatReducer'
import { useConversationsStore } from '@/stores/conversations'
import type { ErrorInfo, MessagePart, ThreadMessage, TurnEvent } from '@/types/stream'

export function toThreadMessages(thread: ThreadPublic): ThreadMessage[] {
  return thread.data as ThreadMessage[]
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function toErrorInfo(e: unknown): ErrorInfo {
  if (e instanceof ApiError || e instanceof FrameError) {
    return { code: e.code, message: e.message, ...(isRecord(e.details) ? { details: e.details } : {}) }
  }
  return { code: 'send_failed', message: errorMessage(e) }
}

/** What the model was sent for an answer (GET …/messages/{id}/context), as the chat service writes it. */
export interface ContextReport {
  model?: string
  context_length?: number
  reply_budget?: number
  instructions_tokens?: number
  window?: number
  total_tokens?: number
  kept?: { id: string; role: string; tokens: number }[]
  dropped_by_window?: string[]
  dropped_by_budget?: string[]
}

interface TurnRequest {
  frame: ChatFrame
  path: string
  body?: unknown
}

export const useChatStore = defineStore('chat', () => {
  const state = reactive<ChatState>(emptyChatState())
  const loading = reactive({ messages: false, error: null as string | null })
  const socket = shallowRef<ChatSocket | null>(null)
  let abort: AbortController | null = null
  let localSeq = 0

  const isStreaming = computed(() => state.turn !== null)
  const canSend = computed(() => features.streaming && state.conversationId !== null && !isStreaming.value)

  function applyEvent(event: TurnEvent, id: string | null = null, conversationId = state.conversationId): void {
    if (conversationId !== state.conversationId || !accept(state, id, event)) return
    const { title } = reduce(state, event)
    if (title !== undefined && event.type === 'conversation_updated') {
      useConversationsStore().setTitle(event.conversation_id, title)
    }
  }

  function setThread(thread: ThreadPublic): void {
    if (thread.conversation_id !== state.conversationId) return
    state.messages = toThreadMessages(thread)
    const streaming = state.messages.find((m) => m.status === 'streaming')
    if (!thread.running) state.turn = null
    else if (streaming && !state.turn) state.turn = { turnId: null, messageId: streaming.id, queuePosition: null, activity: null }
  }

  /** Give the store the open socket (useChatSocket); null falls back to SSE. */
  function attachSocket(next: ChatSocket | null): void {
    socket.value = next
    if (next && state.conversationId && !loading.messages) next.subscribe(state.conversationId)
  }

  async function open(conversationId: string): Promise<void> {
    close()
    state.conversationId = conversationId
    loading.messages = true
    loading.error = null
    try {
      const thread = await chatApi.thread(conversationId)
      setThread(thread)
      if (state.conversationId !== conversationId) return
      if (socket.value) socket.value.subscribe(conversationId)
      else if (thread.running) void follow(conversationId)
    } catch (e) {
      loading.error = errorMessage(e)
    } finally {
      loading.messages = false
    }
  }

  /** Without a socket: follow a turn that is already running over SSE. */
  async function follow(conversationId: string): Promise<void> {
    abort = new AbortController()
    await followTurn(conversationId, (id, event) => applyEvent(event, id, conversationId), abort.signal).catch(() => undefined)
    if (state.conversationId === conversationId && state.turn) await resync()
  }

  /** Reload the shown branch (after a reconnect, or when a stream gave up). */
  async function resync(): Promise<void> {
    const id = state.conversationId
    if (!id) return
    try {
      const thread = await chatApi.thread(id)
      if (!thread.running || !state.turn) setThread(thread)
    } catch {
      // keep what is shown
    }
  }

  function close(): void {
    abort?.abort()
    if (state.conversationId) socket.value?.unsubscribe(state.conversationId)
    Object.assign(state, emptyChatState())
  }

  async function startTurn(req: TurnRequest): Promise<boolean> {
    const conversationId = state.conversationId
    if (!conversationId || !canSend.value) return false
    state.turn = { turnId: null, messageId: null, queuePosition: null, activity: null }
    state.error = null
    const ws = socket.value?.isOpen ? socket.value : null
    try {
      if (ws) await ws.request({ ...req.frame, conversation_id: conversationId })
      else {
        abort = new AbortController()
        await streamTurn(conversationId, req.path, req.body, (id, event) => applyEvent(event, id, conversationId), abort.signal)
        if (state.conversationId === conversationId && state.turn) await resync()
      }
      return true
    } catch (e) {
      if (abort?.signal.aborted || state.conversationId !== conversationId) return true
      state.error = toErrorInfo(e)
      if (state.turn?.messageId === null) state.turn = null
      state.messages = state.messages.filter((m) => !m.id.startsWith('local-'))
      return false
    } finally {
      if (!ws) abort = null
    }
  }

  const base = () => `/api/conversations/${state.conversationId}/messages`

  /** Send a user message with uploaded files (shown at once); false when it was refused (keep the draft). */
  function send(text: string, files: FilePublic[] = []): Promise<boolean> {
    if (!state.conversationId || !canSend.value || (!text.trim() && !files.length)) return Promise.resolve(false)
    const now = new Date().toISOString()
    const last = state.messages.at(-1)
    const parts = files.map((f): MessagePart => ({ type: 'file', file_id: f.id, name: f.name, mime: f.mime, kind: f.kind, size: f.size }))
    state.messages.push({
      id: `local-${++localSeq}`, conversation_id: state.conversationId, role: 'user', status: 'complete',
      content: [...(text.trim() ? [{ type: 'text' as const, text }] : []), ...parts], text, created_at: now, updated_at: now,
      parent_id: last?.id ?? null,
    })
    const fileIds = files.map((f) => f.id)
    return startTurn({
      frame: { type: 'send', content: text, file_ids: fileIds }, path: base(), body: { content: text, file_ids: fileIds },
    })
  }

  const regenerate = (messageId: string) => startTurn({
    frame: { type: 'regenerate', message_id: messageId }, path: `${base()}/${messageId}/regenerate`,
  })
  /** An edit keeps the message's attachments. */
  function edit(messageId: string, text: string): Promise<boolean> {
    const original = state.messages.find((m) => m.id === messageId)
    const fileIds = fileParts(original?.content).map((p) => p.file_id)
    return startTurn({
      frame: { type: 'edit', message_id: messageId, content: text, file_ids: fileIds },
      path: `${base()}/${messageId}/edit`, body: { content: text, file_ids: fileIds },
    })
  }

  /** Show another version of a message (and the branch that follows it). */
  async function selectVersion(messageId: string): Promise<void> {
    const id = state.conversationId
    if (!id || isStreaming.value) return
    try {
      setThread(await chatApi.select(id, messageId))
    } catch (e) {
      state.error = toErrorInfo(e)
    }
  }

  /** Stop the running turn: the server keeps what was produced and sends turn_stopped. */
  function stop(): void {
    const id = state.conversationId
    if (!id || !state.turn) return
    const ws = socket.value?.isOpen ? socket.value : null
    const done = ws ? ws.request({ type: 'stop', conversation_id: id }) : chatApi.stop(id)
    void done.catch(() => chatApi.stop(id).catch(() => undefined))
  }

  const dismissError = () => { state.error = null }

  async function loadContext(messageId: string): Promise<ContextReport | null> {
    if (!state.conversationId) return null
    const doc = await chatApi.context(state.conversationId, messageId)
    return (doc.context ?? null) as ContextReport | null
  }

  return {
    state, loading, socket, isStreaming, canSend, applyEvent, attachSocket, open, resync, close,
    send, regenerate, edit, selectVersion, stop, dismissError, loadContext,
  }
})
