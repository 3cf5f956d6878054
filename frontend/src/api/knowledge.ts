/** Knowledge bases, their documents (upload, status, delete, retry) and search. */
import { client, unwrap } from '@/api/client'
import type { KnowledgeBaseCreate } from '@/api/types'

const base = (baseId: string) => ({ params: { path: { base_id: baseId } } })
const doc = (baseId: string, documentId: string) => ({ params: { path: { base_id: baseId, document_id: documentId } } })

export const knowledgeApi = {
  list: () => unwrap(client.GET('/api/knowledge-bases', { params: { query: { limit: 200 } } })),
  create: (body: KnowledgeBaseCreate) => unwrap(client.POST('/api/knowledge-bases', { body })),
  remove: (baseId: string) => unwrap(client.DELETE('/api/knowledge-bases/{base_id}', base(baseId))),
  get: (baseId: string) => unwrap(client.GET('/api/knowledge-bases/{base_id}', base(baseId))),
  reembed: (baseId: string) => unwrap(client.POST('/api/knowledge-bases/{base_id}/re-embed', base(baseId))),
  documents: (baseId: string) =>
    unwrap(client.GET('/api/knowledge-bases/{base_id}/documents', { params: { path: { base_id: baseId }, query: { limit: 200 } } })),
  upload(baseId: string, file: File) {
    return unwrap(client.POST('/api/knowledge-bases/{base_id}/documents/upload', {
      ...base(baseId),
      body: { file: file as unknown as string },
      bodySerializer: () => {
        const form = new FormData()
        form.append('file', file)
        return form
      },
    }))
  },
  removeDocument: (baseId: string, documentId: string) =>
    unwrap(client.DELETE('/api/knowledge-bases/{base_id}/documents/{document_id}', doc(baseId, documentId))),
  retry: (baseId: string, documentId: string) =>
    unwrap(client.POST('/api/knowledge-bases/{base_id}/documents/{document_id}/retry', doc(baseId, documentId))),
  search: (baseId: string, query: string, topK = 5) =>
    unwrap(client.POST('/api/knowledge-bases/{base_id}/search', { ...base(baseId), body: { query, top_k: topK } })),
}
