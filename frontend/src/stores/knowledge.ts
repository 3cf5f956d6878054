import { computed, ref } from 'vue'
import { defineStore } from 'pinia'
import { errorMessage } from '@/api/errors'
import { knowledgeApi } from '@/api/knowledge'
import type { KnowledgeBase, KnowledgeDocument, SearchHit } from '@/api/types'
import type { LoadStatus } from '@/stores/assistants'

/** A document still going through ingestion (the page polls while there is one). */
export const isBusy = (d: KnowledgeDocument) => ['queued', 'parsing', 'embedding'].includes(d.status)

export const useKnowledgeStore = defineStore('knowledge', () => {
  const bases = ref<KnowledgeBase[]>([])
  const selectedId = ref<string | null>(null)
  const documents = ref<KnowledgeDocument[]>([])
  const hits = ref<SearchHit[]>([])
  const status = ref<LoadStatus>('idle')
  const error = ref<string | null>(null)

  const selected = computed(() => bases.value.find((b) => b.id === selectedId.value) ?? null)
  // Also while the selected base is being re-embedded ("re-embedding n/m").
  const busy = computed(() => documents.value.some(isBusy) || selected.value?.embedding_status === 'reembedding')

  async function run<T>(fn: () => Promise<T>): Promise<T | undefined> {
    error.value = null
    try {
      return await fn()
    } catch (e) {
      error.value = errorMessage(e)
      return undefined
    }
  }

  async function load(): Promise<void> {
    status.value = 'loading'
    const page = await run(() => knowledgeApi.list())
    if (page) {
      bases.value = page.data
      if (!selectedId.value || !page.data.some((b) => b.id === selectedId.value)) selectedId.value = page.data[0]?.id ?? null
      await loadDocuments()
    }
    status.value = error.value ? 'error' : 'ready'
  }

  async function select(id: string): Promise<void> {
    selectedId.value = id
    hits.value = []
    await loadDocuments()
  }

  async function loadDocuments(): Promise<void> {
    const id = selectedId.value
    if (!id) {
      documents.value = []
      return
    }
    const [page, fresh] = await Promise.all([
      run(() => knowledgeApi.documents(id)),
      selected.value?.embedding_status === 'reembedding' ? run(() => knowledgeApi.get(id)) : undefined,
    ])
    if (fresh) replaceBase(fresh)
    if (page && id === selectedId.value) {
      documents.value = page.data
      // Keep the base's counts in the list in step with what ingestion did.
      const chunks = page.data.reduce((sum, d) => sum + d.chunk_count, 0)
      bases.value = bases.value.map((b) => (b.id === id ? { ...b, document_count: page.count, chunk_count: chunks } : b))
    }
  }

  function replaceBase(updated: KnowledgeBase): void {
    bases.value = bases.value.map((b) => (b.id === updated.id ? updated : b))
  }

  /** Re-embed the base with the server's embedding model (after a model change, or a failed re-embed). */
  async function reembed(id: string): Promise<void> {
    const updated = await run(() => knowledgeApi.reembed(id))
    if (updated) replaceBase(updated)
  }

  async function create(name: string): Promise<void> {
    const created = await run(() => knowledgeApi.create({ name, description: '' }))
    if (created) {
      bases.value = [created, ...bases.value]
      await select(created.id)
    }
  }

  async function removeBase(id: string): Promise<void> {
    if ((await run(() => knowledgeApi.remove(id))) === undefined && error.value) return
    bases.value = bases.value.filter((b) => b.id !== id)
    selectedId.value = bases.value[0]?.id ?? null
    await loadDocuments()
  }

  async function upload(files: File[]): Promise<void> {
    const id = selectedId.value
    if (!id) return
    for (const file of files) {
      const added = await run(() => knowledgeApi.upload(id, file))
      if (added && id === selectedId.value) documents.value = [added, ...documents.value]
    }
  }

  async function removeDocument(documentId: string): Promise<void> {
    const id = selectedId.value
    if (!id || ((await run(() => knowledgeApi.removeDocument(id, documentId))) === undefined && error.value)) return
    documents.value = documents.value.filter((d) => d.id !== documentId)
  }

  async function retry(documentId: string): Promise<void> {
    const id = selectedId.value
    const updated = id ? await run(() => knowledgeApi.retry(id, documentId)) : undefined
    if (updated) documents.value = documents.value.map((d) => (d.id === documentId ? updated : d))
  }

  async function search(query: string): Promise<void> {
    const id = selectedId.value
    if (!id || !query.trim()) return
    const result = await run(() => knowledgeApi.search(id, query.trim()))
    if (result) hits.value = result.data
  }

  return { bases, selectedId, selected, documents, hits, status, error, busy, load, select, loadDocuments, create, removeBase, upload, removeDocument, retry, search, reembed }
})
