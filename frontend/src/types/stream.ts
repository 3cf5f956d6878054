/**
 * The events of a chat turn and the message parts, generated from the backend's schema
 * (src/agentcreator/chat/events.py `TurnEvent`, chat/parts.py `MessagePart`) into src/api/schema.d.ts
 * by `npm run gen:api`. Sent as WebSocket JSON frames and SSE `event:`/`data:` pairs.
 */
import type { components } from '@/api/schema'

type Schemas = components['schemas']

export type MessageSnapshot = Schemas['MessageSnapshot']
export type MessageStatus = MessageSnapshot['status']
export type MessageRole = MessageSnapshot['role']
export type MessagePart = Schemas['MessagePart']
export type TextPart = Schemas['TextPart']
export type ToolCallPart = Schemas['ToolCallPart']
export type CitationPart = Schemas['CitationPart']
export type NoticePart = Schemas['NoticePart']
export type FilePart = Schemas['FilePart']
export type ImagePart = Schemas['ImagePart']

/** Which version of a message this is, among its siblings (GET …/thread). */
export type VersionInfo = Schemas['VersionInfo']

export type ThreadMessage = MessageSnapshot & { version?: VersionInfo }

export type ErrorInfo = Schemas['ErrorInfo'] & {
  /** The API error's details (e.g. `continued_in_id` with `conversation_read_only`). */
  details?: Record<string, unknown> | null
}

/** Where a refused send should go instead: `conversation_read_only` names the continuation. */
export function continuedInOf(error: ErrorInfo | null | undefined): string | null {
  if (error?.code !== 'conversation_read_only') return null
  const id = error.details?.continued_in_id
  return typeof id === 'string' && id ? id : null
}

export type TurnEvent = Schemas['TurnEvent']
export type TurnEventType = TurnEvent['type']

export const TERMINAL_TYPES: ReadonlySet<TurnEventType> = new Set<TurnEventType>([
  'turn_completed',
  'turn_stopped',
  'turn_failed',
])

/** Every event type; `satisfies` makes the compiler check the list against the generated union. */
const ALL_TYPES = {
  turn_started: true,
  queued: true,
  text_delta: true,
  usage: true,
  tool_call_started: true,
  tool_call_delta: true,
  tool_call_updated: true,
  step_finished: true,
  notice: true,
  turn_completed: true,
  turn_stopped: true,
  turn_failed: true,
  conversation_updated: true,
  conversation_continued: true,
} satisfies Record<TurnEventType, true>
const KNOWN: ReadonlySet<string> = new Set(Object.keys(ALL_TYPES))

/** Narrow a parsed frame to a TurnEvent; unknown types (a newer server) are ignored. */
export function parseTurnEvent(value: unknown): TurnEvent | null {
  if (typeof value !== 'object' || value === null) return null
  const type = (value as { type?: unknown }).type
  return typeof type === 'string' && KNOWN.has(type) ? (value as TurnEvent) : null
}
