import { computed, reactive } from 'vue'
import { defineStore } from 'pinia'
import { conversationsApi } from '@/api/conversations'
import { authFetch } from '@/api/session'
import { errorMessage, toApiError } from '@/api/errors'
import type { Message } from '@/api/types'
import { features } from '@/lib/features'
import { readSse } from '@/lib/sse'
import { emptyChatState, reduce, type ChatState } from '@/stores/chatReducer'
import { useConversationsStore } from '@/stores/conversations'
import { parseTurnEvent, type MessageSnapshot, type TurnEvent } from '@/types/stream'

/** The API's MessagePublic uses plain strings for role/status; narrow them for the UI. */
export function toSnapshot(m: Message): MessageSnapshot {
  return { ...m, role: m.role as MessageSnapshot['role'], status: m.status as MessageSnapshot['status'] }
}

export const useChatStore = defineStore('chat', () => {
  const state = reactive<ChatState>(emptyChatState())
  const loading = reactive({ messages: false, error: null as string | null })
  let abort: AbortController | null = null
  let localSeq = 0

  const isStreaming = computed(() => state.turn !== null)
  const canSend = computed(() => features.streaming && state.conversationId !== null && !isStreaming.value)

  function applyEvent(event: TurnEvent): void {
    const { title } = reduce(state, event)
    if (title !== undefined && event.type === 'conversation_updated') {
      useConversationsStore().setTitle(event.conversation_id, title)
    }
  }

  /** Stop listening (switching threads); the turn itself goes on on the server. */
  function detach(): void {
    abort?.abort()
  }

  async function open(conversationId: string): Promise<void> {
    detach()
    Object.assign(state, emptyChatState(conversationId))
    loading.messages = true
    loading.error = null
    try {
      const page = await conversationsApi.messages(conversationId)
      if (state.conversationId === conversationId) state.messages = page.data.map(toSnapshot)
    } catch (e) {
      loading.error = errorMessage(e)
    } finally {
      loading.messages = false
    }
  }

  function close(): void {
    detach()
    Object.assign(state, emptyChatState())
  }

  /** Send a user message and reduce the streamed turn events into state. */
  async function send(text: string): Promise<boolean> {
    const conversationId = state.conversationId
    if (!conversationId || !canSend.value || !text.trim()) return false
    const now = new Date().toISOString()
    state.messages.push({
      id: `local-${++localSeq}`, conversation_id: conversationId, role: 'user', status: 'complete',
      content: [{ type: 'text', text }], text, created_at: now, updated_at: now,
    })
    state.turn = { turnId: null, messageId: null, queuePosition: null }
    abort = new AbortController()
    try {
      const res = await authFetch(new Request(`/api/conversations/${conversationId}/messages`, {
        method: 'POST',
        headers: { Accept: 'text/event-stream', 'Content-Type': 'application/json' },
        body: JSON.stringify({ content: text }),
        signal: abort.signal,
      }))
      if (!res.ok || !res.body) throw toApiError(res.status, await res.json().catch(() => null))
      for await (const frame of readSse(res.body)) {
        const event = parseTurnEvent(JSON.parse(frame.data))
        if (event) applyEvent(event)
      }
      return true
    } catch (e) {
      if (abort?.signal.aborted) return true
      state.error = { code: 'send_failed', message: errorMessage(e) }
      // Take back the optimistic message the server never accepted.
      state.messages = state.messages.filter((m) => !(m.id.startsWith('local-') && m.text === text))
      return false
    } finally {
      abort = null
      if (state.conversationId === conversationId) state.turn = null
    }
  }

  /** Stop the running turn: the server keeps what was produced, marked stopped. */
  function stop(): void {
    const id = state.conversationId
    if (id && state.turn) void conversationsApi.stop(id).catch(() => undefined)
    abort?.abort()
  }

  return { state, loading, isStreaming, canSend, applyEvent, open, close, send, stop }
})
