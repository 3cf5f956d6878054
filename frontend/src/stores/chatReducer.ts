/** Pure reduction of turn events into chat state; the chat store wraps it (STYLE 18). */
import type { ErrorInfo, MessageSnapshot, ThreadMessage, ToolCallPart, TurnEvent } from '@/types/stream'

export interface ActiveTurn {
  turnId: string | null
  messageId: string | null
  queuePosition: number | null
  /** What a running tool is doing ("Searching the web…"), while one works. */
  activity: string | null
}

export interface ChatState {
  conversationId: string | null
  /** The branch being shown, oldest first. */
  messages: ThreadMessage[]
  turn: ActiveTurn | null
  error: ErrorInfo | null
  /** The last stream event id applied (`<turn>:<n>`): drops repeats after a resume. */
  lastEventId: string | null
  /** Replays of turns already saved in the loaded thread: their events are ignored. */
  ignoredTurns: string[]
  /** Set when the message cap moved this chat to a new conversation. */
  continuedIn: string | null
  /** This tab's own send moved it (navigate there); false when it was another tab's, or a replay. */
  followContinuation: boolean
}

export function emptyChatState(conversationId: string | null = null): ChatState {
  return {
    conversationId, messages: [], turn: null, error: null, lastEventId: null, ignoredTurns: [], continuedIn: null,
    followContinuation: false,
  }
}

function single(id: string): ThreadMessage['version'] {
  return { index: 0, count: 1, ids: [id] }
}

/** Put a new message after its parent: whatever followed the parent was another branch. */
function attach(state: ChatState, message: MessageSnapshot): void {
  const parent = message.parent_id ? state.messages.findIndex((m) => m.id === message.parent_id) : -1
  const root = message.parent_id === null && message.role === 'user'
  if (!root && parent < 0) {
    state.messages.push({ ...message, version: single(message.id) })
    return
  }
  const sibling = state.messages[parent + 1]
  state.messages.splice(parent + 1)
  const prior = sibling && sibling.role === message.role ? (sibling.version ?? single(sibling.id)) : null
  const version = prior && !sibling?.id.startsWith('local-')
    ? { index: prior.count, count: prior.count + 1, ids: [...prior.ids, message.id] }
    : single(message.id)
  state.messages.push({ ...message, version })
}

function upsert(state: ChatState, message: MessageSnapshot): void {
  const i = state.messages.findIndex((m) => m.id === message.id)
  if (i >= 0) {
    state.messages[i] = { ...message, version: state.messages[i]?.version }
    return
  }
  // The server's copy of an optimistic user message replaces the local one.
  if (message.role === 'user') {
    const local = state.messages.findIndex((m) => m.id.startsWith('local-') && m.text === message.text)
    if (local >= 0) {
      state.messages[local] = { ...message, version: single(message.id) }
      return
    }
  }
  attach(state, message)
}

function find(state: ChatState, id: string): ThreadMessage | undefined {
  return state.messages.find((m) => m.id === id)
}

function toolPart(message: ThreadMessage, callId: string): ToolCallPart | undefined {
  return message.content.find((p): p is ToolCallPart => p.type === 'tool_call' && p.call_id === callId)
}

/** Streamed text goes into the answer's last text part, or a new one after a tool call. */
function appendText(message: ThreadMessage, text: string): void {
  message.text += text
  const last = message.content[message.content.length - 1]
  if (last && last.type === 'text') last.text += text
  else message.content.push({ type: 'text', text })
}

function belongs(state: ChatState, conversationId: string): boolean {
  return state.conversationId === null || state.conversationId === conversationId
}

/** A message already saved (not streaming) in the loaded thread, or one of its versions. */
function settled(state: ChatState, id: string): boolean {
  return state.messages.some((m) => (m.id === id && m.status !== 'streaming') || (m.id !== id && m.version?.ids.includes(id)))
}

/**
 * A saved answer whose run goes on (its client-side function calls were answered through the API): the
 * turn starts with the same answer, changed after the version the thread holds.
 */
function continues(state: ChatState, answer: MessageSnapshot): boolean {
  const shown = state.messages.find((m) => m.id === answer.id)
  return shown !== undefined && shown.status !== 'streaming' && Date.parse(answer.updated_at) > Date.parse(shown.updated_at)
}

/**
 * A replay of a turn the loaded thread already contains: its answer is saved there (or is a version of
 * the shown one), or its question is a saved version while its answer is not on the shown branch (an
 * edit whose branch the user left before reloading). A turn still running shows its answer as streaming.
 */
function replayed(state: ChatState, event: Extract<TurnEvent, { type: 'turn_started' }>): boolean {
  if (continues(state, event.assistant_message)) return false
  const answer = event.assistant_message.id
  if (settled(state, answer)) return true
  const question = event.user_message?.id
  return question !== undefined && settled(state, question) && !state.messages.some((m) => m.id === answer)
}

/** False for an event seen already (same turn, same or earlier position) or of an ignored turn. */
export function accept(state: ChatState, id: string | null, event: TurnEvent): boolean {
  if (!id) return true
  const [turn, pos] = id.split(':')
  if (!turn) return true
  if (state.ignoredTurns.includes(turn)) return false
  const [lastTurn, lastPos] = (state.lastEventId ?? '').split(':')
  if (lastTurn === turn && Number(pos) <= Number(lastPos)) return false
  state.lastEventId = id
  if (event.type === 'turn_started' && replayed(state, event)) {
    state.ignoredTurns.push(turn)
    return false
  }
  return true
}

/** Apply one event in place. Returns a title change for the caller to publish, if any. */
export function reduce(state: ChatState, event: TurnEvent): { title?: string } {
  switch (event.type) {
    case 'turn_started':
      if (event.continued_from && event.continued_from === state.conversationId) {
        state.continuedIn = event.conversation_id
        state.followContinuation = true // only the sender's own stream carries this turn here
        return {}
      }
      if (!belongs(state, event.conversation_id)) return {}
      if (event.user_message) upsert(state, event.user_message)
      upsert(state, event.assistant_message)
      state.turn = { turnId: event.turn_id, messageId: event.assistant_message.id, queuePosition: null, activity: null }
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
      appendText(message, event.text)
      message.status = 'streaming'
      if (state.turn?.messageId === event.message_id) state.turn.queuePosition = null
      return {}
    }
    case 'tool_call_started': {
      const message = find(state, event.message_id)
      if (!message || toolPart(message, event.call_id)) return {}
      message.content.push({
        type: 'tool_call', call_id: event.call_id, name: event.name, arguments: '', status: 'running', round: event.round,
      })
      message.status = 'streaming'
      return {}
    }
    case 'tool_call_delta': {
      const part = find(state, event.message_id) && toolPart(find(state, event.message_id)!, event.call_id)
      if (part) part.arguments = (part.arguments ?? '') + event.arguments_delta
      return {}
    }
    case 'tool_call_updated': {
      const message = find(state, event.message_id)
      if (!message) return {}
      const i = message.content.findIndex((p) => p.type === 'tool_call' && p.call_id === event.part.call_id)
      if (i >= 0) message.content[i] = event.part
      else message.content.push(event.part)
      if (state.turn?.messageId === event.message_id) {
        const running = message.content.some((p) => p.type === 'tool_call' && p.status === 'running')
        state.turn.activity = event.part.status === 'running' ? (event.activity ?? 'Working…') : running ? state.turn.activity : null
      }
      return {}
    }
    case 'step_finished': {
      const message = find(state, event.message_id)
      if (message) message.cost_micros = (message.cost_micros ?? 0) + event.cost_micros
      return {}
    }
    case 'notice': {
      const message = find(state, event.message_id)
      if (message) message.content.push({ type: 'notice', code: event.code, message: event.message })
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
    case 'conversation_continued':
      if (event.conversation_id !== state.conversationId) return {}
      state.continuedIn = event.continued_in_id
      // A send of ours is waiting: follow it. Otherwise another tab reached the cap, or opening the
      // old conversation replayed the event: stay, and show it read-only.
      state.followContinuation = state.turn !== null
      return {}
  }
}
