/**
 * The SSE fallback (docs/streaming.md): POST a turn with `Accept: text/event-stream`, feed its
 * events, and if the stream breaks before the turn ends, resume with GET …/events and Last-Event-ID.
 */
import { authFetch } from '@/api/session'
import { toApiError } from '@/api/errors'
import { readSse } from '@/lib/sse'
import { parseTurnEvent, TERMINAL_TYPES, type TurnEvent } from '@/types/stream'

export type EnvelopeHandler = (id: string | null, event: TurnEvent) => void

const MAX_RESUMES = 3

async function open(url: string, init: RequestInit): Promise<ReadableStream<Uint8Array>> {
  const res = await authFetch(new Request(url, init))
  if (!res.ok || !res.body) throw toApiError(res.status, await res.json().catch(() => null))
  return res.body
}

/** Read one stream; returns the last event id and whether the turn ended. */
async function drain(body: ReadableStream<Uint8Array>, onEvent: EnvelopeHandler,
  lastId: string | null): Promise<{ lastId: string | null; ended: boolean }> {
  let ended = false
  try {
    for await (const frame of readSse(body)) {
      const event = parseTurnEvent(JSON.parse(frame.data))
      if (frame.id) lastId = frame.id
      if (!event) continue
      onEvent(frame.id, event)
      if (TERMINAL_TYPES.has(event.type)) ended = true
    }
  } catch {
    // A dropped connection: resume below.
  }
  return { lastId, ended }
}

/** Follow the running turn of a conversation (after a reload, or a continuation) to its end. */
export async function followTurn(conversationId: string, onEvent: EnvelopeHandler, signal?: AbortSignal): Promise<void> {
  const body = await open(`/api/conversations/${conversationId}/events`, { headers: { Accept: 'text/event-stream' }, signal })
  await drain(body, onEvent, null)
}

/** Send `body` to `path` (send, regenerate or edit) and follow the turn to its end. */
export async function streamTurn(conversationId: string, path: string, body: unknown,
  onEvent: EnvelopeHandler, signal?: AbortSignal): Promise<void> {
  const headers = { Accept: 'text/event-stream', 'Content-Type': 'application/json' }
  const first = await open(path, { method: 'POST', headers, body: JSON.stringify(body ?? {}), signal })
  let { lastId, ended } = await drain(first, onEvent, null)
  for (let attempt = 0; !ended && !signal?.aborted && attempt < MAX_RESUMES; attempt += 1) {
    await new Promise((r) => setTimeout(r, 300 * 2 ** attempt))
    try {
      const resumed = await open(`/api/conversations/${conversationId}/events`, {
        headers: { Accept: 'text/event-stream', ...(lastId ? { 'Last-Event-ID': lastId } : {}) },
        signal,
      })
      ;({ lastId, ended } = await drain(resumed, onEvent, lastId))
    } catch {
      // try again
    }
  }
}
