/** A minimal Server-Sent Events reader for fetch() bodies (EventSource cannot POST). */

export interface SseFrame {
  event: string
  data: string
  id: string | null
}

/** Parse complete frames out of `buffer`; return them and the unparsed rest. */
export function parseSseChunk(buffer: string): { frames: SseFrame[]; rest: string } {
  const frames: SseFrame[] = []
  const blocks = buffer.replace(/\r\n?/g, '\n').split('\n\n')
  const rest = blocks.pop() ?? ''
  for (const block of blocks) {
    let event = 'message'
    let id: string | null = null
    const data: string[] = []
    for (const line of block.split('\n')) {
      if (!line || line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'event') event = value
      else if (field === 'data') data.push(value)
      else if (field === 'id') id = value
    }
    if (data.length) frames.push({ event, data: data.join('\n'), id })
  }
  return { frames, rest }
}

export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseFrame> {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      buffer += decoder.decode(value, { stream: true })
      const { frames, rest } = parseSseChunk(buffer)
      buffer = rest
      yield* frames
    }
    const { frames } = parseSseChunk(buffer + '\n\n')
    yield* frames
  } finally {
    reader.releaseLock()
  }
}
