import { client, unwrap } from '@/api/client'
import { toApiError } from '@/api/errors'
import { filenameFromDisposition, saveBlob } from '@/lib/download'
import type { ConversationUpdate } from '@/api/types'

/** markdown: a transcript; json: the versioned document; zip: both and the attached files. */
export type ExportFormat = 'markdown' | 'json' | 'zip'
const EXPORT_EXTENSIONS: Record<ExportFormat, string> = { markdown: 'md', json: 'json', zip: 'zip' }

export interface ConversationQuery {
  assistant_id?: string
  q?: string
  archived?: 'false' | 'true' | 'all'
  limit?: number
  offset?: number
}

const byId = (conversation_id: string) => ({ params: { path: { conversation_id } } })

export const conversationsApi = {
  list: (query: ConversationQuery = {}) =>
    unwrap(client.GET('/api/conversations', { params: { query } })),
  get: (id: string) => unwrap(client.GET('/api/conversations/{conversation_id}', byId(id))),
  /** `reuseEmpty`: reopen an untouched conversation with this assistant instead of making another. */
  create: (assistant_id: string, title?: string, reuseEmpty = false) =>
    unwrap(client.POST('/api/conversations', { body: { assistant_id, title: title ?? null, reuse_empty: reuseEmpty } })),
  update: (id: string, body: ConversationUpdate) =>
    unwrap(client.PATCH('/api/conversations/{conversation_id}', { ...byId(id), body })),
  /** The user's messages containing every word of `q`, archived conversations included. */
  searchMessages: (q: string, limit = 20) =>
    unwrap(client.GET('/api/conversations/search', { params: { query: { q, limit } } })),
  remove: (id: string) => unwrap(client.DELETE('/api/conversations/{conversation_id}', byId(id))),
  stop: (id: string) => unwrap(client.POST('/api/conversations/{conversation_id}/stop', byId(id))),
  messages: (id: string, limit = 200, offset = 0) =>
    unwrap(
      client.GET('/api/conversations/{conversation_id}/messages', {
        params: { path: { conversation_id: id }, query: { limit, offset } },
      }),
    ),
}

/** Download the conversation's export under the name the server gives it (from the title); returns
 * that name. The bytes are fetched with the bearer token, then saved from memory. */
export async function downloadConversationExport(id: string, format: ExportFormat): Promise<string> {
  let result: { data?: Blob; error?: unknown; response: Response }
  try {
    result = await client.GET('/api/conversations/{conversation_id}/export', {
      params: { path: { conversation_id: id }, query: { format } }, parseAs: 'blob',
    })
  } catch {
    throw toApiError(0, null)
  }
  const { data, response } = result
  if (!response.ok || !data) throw toApiError(response.status, result.error)
  const name = filenameFromDisposition(response.headers.get('content-disposition')) ?? `conversation.${EXPORT_EXTENSIONS[format]}`
  saveBlob(data, name)
  return name
}
