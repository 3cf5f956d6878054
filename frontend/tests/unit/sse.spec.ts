import { describe, expect, it } from 'vitest'
import { parseSseChunk, readSse } from '@/lib/sse'
import { parseTurnEvent } from '@/types/stream'

describe('SSE parsing', () => {
  it('splits frames, keeps the incomplete rest, joins multi-line data', () => {
    const { frames, rest } = parseSseChunk('event: text_delta\nid: 1\ndata: {"a":1}\n\n: ping\n\ndata: x\ndata: y\n\ndata: par')
    expect(frames).toEqual([
      { event: 'text_delta', id: '1', data: '{"a":1}' },
      { event: 'message', id: null, data: 'x\ny' },
    ])
    expect(rest).toBe('data: par')
  })

  it('reads a stream whose chunks cut frames anywhere', async () => {
    const text = 'data: {"type":"text_delta","message_id":"m","text":"hi"}\r\n\r\ndata: {"type":"unknown"}\n\n'
    const bytes = new TextEncoder().encode(text)
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 7) controller.enqueue(bytes.slice(i, i + 7))
        controller.close()
      },
    })
    const events = []
    for await (const frame of readSse(body)) events.push(parseTurnEvent(JSON.parse(frame.data)))
    expect(events).toEqual([{ type: 'text_delta', message_id: 'm', text: 'hi' }, null])
  })
})
