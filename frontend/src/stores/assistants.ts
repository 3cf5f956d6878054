import { computed, ref } from 'vue'
import { defineStore } from 'pinia'
import { assistantsApi } from '@/api/assistants'
import { errorMessage } from '@/api/errors'
import type { Assistant, AssistantCreate, AssistantExport, AssistantUpdate } from '@/api/types'

export type LoadStatus = 'idle' | 'loading' | 'ready' | 'error'

export const useAssistantsStore = defineStore('assistants', () => {
  const items = ref<Assistant[]>([])
  const count = ref(0)
  const query = ref('')
  const status = ref<LoadStatus>('idle')
  const error = ref<string | null>(null)
  let seq = 0

  const byId = computed(() => new Map(items.value.map((a) => [a.id, a])))

  async function load(q = query.value): Promise<void> {
    query.value = q
    const mine = ++seq // a slower, older search must not overwrite a newer one
    status.value = 'loading'
    error.value = null
    try {
      const page = await assistantsApi.list({ q: q || undefined, limit: 100 })
      if (mine !== seq) return
      items.value = page.data
      count.value = page.count
      status.value = 'ready'
    } catch (e) {
      if (mine !== seq) return
      error.value = errorMessage(e)
      status.value = 'error'
    }
  }

  function upsert(assistant: Assistant): Assistant {
    const i = items.value.findIndex((a) => a.id === assistant.id)
    if (i >= 0) items.value[i] = assistant
    else {
      items.value.unshift(assistant)
      count.value += 1
    }
    return assistant
  }

  async function fetchOne(id: string): Promise<Assistant> {
    return upsert(await assistantsApi.get(id))
  }

  const create = async (body: AssistantCreate) => upsert(await assistantsApi.create(body))
  const update = async (id: string, body: AssistantUpdate) =>
    upsert(await assistantsApi.update(id, body))
  const duplicate = async (id: string) => upsert(await assistantsApi.duplicate(id))
  const importDoc = async (doc: AssistantExport) => upsert(await assistantsApi.importDoc(doc))
  const exportDoc = (id: string) => assistantsApi.exportDoc(id)

  async function remove(id: string): Promise<void> {
    await assistantsApi.remove(id)
    const before = items.value.length
    items.value = items.value.filter((a) => a.id !== id)
    count.value -= before - items.value.length
  }

  function reset(): void {
    items.value = []
    count.value = 0
    query.value = ''
    status.value = 'idle'
  }

  return {
    items, count, query, status, error, byId,
    load, fetchOne, create, update, duplicate, importDoc, exportDoc, remove, reset,
  }
})
