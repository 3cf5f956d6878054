import { ref } from 'vue'
import { defineStore } from 'pinia'
import { errorMessage } from '@/api/errors'
import { providersApi } from '@/api/providers'
import type { ConnectionTest, Provider, ProviderCreate, ProviderUpdate } from '@/api/types'
import type { LoadStatus } from '@/stores/assistants'
import { useModelsStore } from '@/stores/models'

/** Model providers (admin): environment ones are read-only, admin ones editable. */
export const useProvidersStore = defineStore('providers', () => {
  const items = ref<Provider[]>([])
  const status = ref<LoadStatus>('idle')
  const error = ref<string | null>(null)
  const tests = ref<Record<string, ConnectionTest | 'testing'>>({})

  async function load(): Promise<void> {
    status.value = 'loading'
    error.value = null
    try {
      items.value = await providersApi.list()
      status.value = 'ready'
    } catch (e) {
      error.value = errorMessage(e)
      status.value = 'error'
    }
  }

  const changed = () => {
    useModelsStore().invalidate()
    return load()
  }

  async function create(body: ProviderCreate): Promise<void> {
    await providersApi.create(body)
    await changed()
  }

  async function update(id: string, body: ProviderUpdate): Promise<void> {
    await providersApi.update(id, body)
    await changed()
  }

  async function remove(id: string): Promise<void> {
    await providersApi.remove(id)
    await changed()
  }

  async function test(id: string): Promise<ConnectionTest> {
    tests.value[id] = 'testing'
    try {
      const result = await providersApi.test(id)
      tests.value[id] = result
      return result
    } catch (e) {
      const failed = { ok: false, models: 0, error: { code: 'error', message: errorMessage(e) } }
      tests.value[id] = failed
      return failed
    }
  }

  return { items, status, error, tests, load, create, update, remove, test }
})
