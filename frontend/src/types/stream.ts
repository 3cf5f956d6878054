/**
 * The events of a chat turn: mirrors src/agentcreator/chat/events.py (`TurnEvent`).
 * Sent as WebSocket JSON frames and SSE `event:`/`data:` pairs. Keep both sides in step.
 */

export type MessageStatus = 'complete' | 'streaming' | 'stopped' | 'failed' | 'interrupted'
export type MessageRole = 'user' | 'assistant' | 'system' | 'tool'

export interface MessageSnapshot {
  id: string
  conversation_id: string
  role: MessageRole
  content: Record<string, unknown>[]
  text: string
  status: MessageStatus
  error?: Record<string, unknown> | null
  parent_id?: string | null
  model?: string | null
  usage?: Record<string, unknown> | null
  cost_micros?: number | null
  /** On copies a continuation carried over: the original message's id. */
  carried_from_id?: string | null
  created_at: string
  updated_at: string
}

/** Which version of a message this is, among its siblings (GET …/thread). */
export interface VersionInfo {
  index: number
  count: number
  ids: string[]
}

export type ThreadMessage = MessageSnapshot & { version?: VersionInfo }

export interface ErrorInfo {
  code: string
  message: string
  retryable?: boolean
  /** The API error's details (e.g. `continued_in_id` with `conversation_read_only`). */
  details?: Record<string, unknown> | null
}

/** Where a refused send should go instead: `conversation_read_only` names the continuation. */
export function continuedInOf(error: ErrorInfo | null | undefined): string | null {
  if (error?.code !== 'conversation_read_only') return null
  const id = error.details?.continued_in_id
  return typeof id === 'string' && id ? id : null
}

export interface TurnStarted {
  type: 'turn_started'
  turn_id: string
  conversation_id: string
  user_message: MessageSnapshot | null
  assistant_message: MessageSnapshot
  /** The send reached the message cap of this (old) conversation: the turn runs in `conversation_id`. */
  continued_from?: string | null
}

/** The model is busy with other requests; this one waits at `position`. */
export interface Queued {
  type: 'queued'
  message_id: string
  position: number
}

export interface TextDelta {
  type: 'text_delta'
  message_id: string
  text: string
}

export interface UsageUpdate {
  type: 'usage'
  message_id: string
  usage: Record<string, unknown>
}

export interface TurnCompleted {
  type: 'turn_completed'
  message: MessageSnapshot
}

export interface TurnStopped {
  type: 'turn_stopped'
  message: MessageSnapshot
}

export interface TurnFailed {
  type: 'turn_failed'
  message: MessageSnapshot
  error: ErrorInfo
}

/** Conversation metadata changed during the turn (e.g. a generated title). */
export interface ConversationUpdated {
  type: 'conversation_updated'
  conversation_id: string
  title: string
}

/** Published on the old conversation when its message cap made a send continue in a new one. */
export interface ConversationContinued {
  type: 'conversation_continued'
  conversation_id: string
  continued_in_id: string
  summary_source: 'model' | 'extract'
}

export type TurnEvent =
  | TurnStarted
  | Queued
  | TextDelta
  | UsageUpdate
  | TurnCompleted
  | TurnStopped
  | TurnFailed
  | ConversationUpdated
  | ConversationContinued

export type TurnEventType = TurnEvent['type']

export const TERMINAL_TYPES: ReadonlySet<TurnEventType> = new Set([
  'turn_completed',
  'turn_stopped',
  'turn_failed',
])

const KNOWN: ReadonlySet<string> = new Set<TurnEventType>([
  'turn_started',
  'queued',
  'text_delta',
  'usage',
  'turn_completed',
  'turn_stopped',
  'turn_failed',
  'conversation_updated',
  'conversation_continued',
])

/** Narrow a parsed frame to a TurnEvent; unknown types (a newer server) are ignored. */
export function parseTurnEvent(value: unknown): TurnEvent | null {
  if (typeof value !== 'object' || value === null) return null
  const type = (value as { type?: unknown }).type
  return typeof type === 'string' && KNOWN.has(type) ? (value as TurnEvent) : null
}
