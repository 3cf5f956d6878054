/** Pure reduction of turn events into chat state; the chat store wraps it (STYLE 18). */
import type { ErrorInfo, MessageSnapshot, TurnEvent } from '@/types/stream'

export interface ActiveTurn {
  turnId: string | null
  messageId: string | null
  queuePosition: number | null
}

export interface ChatState {
  conversationId: string | null
  messages: MessageSnapshot[]
  turn: ActiveTurn | null
  error: ErrorInfo | null
}

export function emptyChatState(conversationId: string | null = null): ChatState {
  return { conversationId, messages: [], turn: null, error: null }
}

function upsert(state: ChatState, message: MessageSnapshot): void {
  const i = state.messages.findIndex((m) => m.id === message.id)
  if (i >= 0) {
    state.messages[i] = message
    return
  }
  // The server's copy of an optimistic user message replaces the local one.
  if (message.role === 'user') {
    const local = state.messages.findIndex((m) => m.id.startsWith('local-') && m.text === message.text)
    if (local >= 0) {
      state.messages[local] = message
      return
    }
  }
  state.messages.push(message)
}

function find(state: ChatState, id: string): MessageSnapshot | undefined {
  return state.messages.find((m) => m.id === id)
}

function belongs(state: ChatState, conversationId: string): boolean {
  return state.conversationId === null || state.conversationId === conversationId
}

/** Apply one event in place. Returns a title change for the caller to publish, if any. */
export function reduce(state: ChatState, event: TurnEvent): { title?: string } {
  switch (event.type) {
    case 'turn_started':
      if (!belongs(state, event.conversation_id)) return {}
      if (event.user_message) upsert(state, event.user_message)
      upsert(state, event.assistant_message)
      state.turn = { turnId: event.turn_id, messageId: event.assistant_message.id, queuePosition: null }
      state.error = null
      return {}
    case 'queued':
      if (state.turn && (state.turn.messageId === null || state.turn.messageId === event.message_id)) {
        state.turn.queuePosition = event.position
      }
      return {}
    case 'text_delta': {
      const message = find(state, event.message_id)
      if (!message) return {}
      message.text += event.text
      message.status = 'streaming'
      if (state.turn?.messageId === event.message_id) state.turn.queuePosition = null
      return {}
    }
    case 'usage': {
      const message = find(state, event.message_id)
      if (message) message.usage = event.usage
      return {}
    }
    case 'turn_completed':
    case 'turn_stopped':
    case 'turn_failed':
      if (!belongs(state, event.message.conversation_id)) return {}
      upsert(state, event.message)
      if (!state.turn || state.turn.messageId === event.message.id) state.turn = null
      state.error = event.type === 'turn_failed' ? event.error : null
      return {}
    case 'conversation_updated':
      return { title: event.title }
  }
}
