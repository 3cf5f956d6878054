import { client, unwrap } from '@/api/client'
import type { AssistantCreate, AssistantExport, AssistantUpdate } from '@/api/types'

export interface AssistantQuery {
  q?: string
  tag?: string
  limit?: number
  offset?: number
}

const byId = (assistant_id: string) => ({ params: { path: { assistant_id } } })

export const assistantsApi = {
  list: (query: AssistantQuery = {}) =>
    unwrap(client.GET('/api/assistants', { params: { query } })),
  get: (id: string) => unwrap(client.GET('/api/assistants/{assistant_id}', byId(id))),
  create: (body: AssistantCreate) => unwrap(client.POST('/api/assistants', { body })),
  update: (id: string, body: AssistantUpdate) =>
    unwrap(client.PATCH('/api/assistants/{assistant_id}', { ...byId(id), body })),
  remove: (id: string) => unwrap(client.DELETE('/api/assistants/{assistant_id}', byId(id))),
  duplicate: (id: string) =>
    unwrap(client.POST('/api/assistants/{assistant_id}/duplicate', byId(id))),
  exportDoc: (id: string) =>
    unwrap(client.GET('/api/assistants/{assistant_id}/export', byId(id))),
  importDoc: (body: AssistantExport) => unwrap(client.POST('/api/assistants/import', { body })),
}
