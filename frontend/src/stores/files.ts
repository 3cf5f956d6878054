import { ref } from 'vue'
import { defineStore } from 'pinia'
import { errorMessage } from '@/api/errors'
import { filesApi } from '@/api/files'
import type { FilePublic, FilesPublic } from '@/api/types'
import type { LoadStatus } from '@/stores/assistants'

/** The Files page: your files with where each is used, and your storage use. */
export const useFilesStore = defineStore('files', () => {
  const items = ref<FilePublic[]>([])
  const count = ref(0)
  const storage = ref<FilesPublic['storage'] | null>(null)
  const status = ref<LoadStatus>('idle')
  const error = ref<string | null>(null)

  async function load(): Promise<void> {
    status.value = 'loading'
    try {
      const page = await filesApi.list(200)
      items.value = page.data
      count.value = page.count
      storage.value = page.storage
      status.value = 'ready'
      error.value = null
    } catch (e) {
      error.value = errorMessage(e)
      status.value = 'error'
    }
  }

  async function remove(id: string): Promise<void> {
    await filesApi.remove(id)
    await load()
  }

  return { items, count, storage, status, error, load, remove }
})
