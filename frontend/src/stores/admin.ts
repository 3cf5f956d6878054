import { ref } from 'vue'
import { defineStore } from 'pinia'
import { adminApi } from '@/api/admin'
import { errorMessage } from '@/api/errors'
import type { PlatformSettings, User, UserUpdateAdmin } from '@/api/types'
import type { LoadStatus } from '@/stores/assistants'

export const useAdminStore = defineStore('admin', () => {
  const users = ref<User[]>([])
  const count = ref(0)
  const query = ref('')
  const settings = ref<PlatformSettings | null>(null)
  const status = ref<LoadStatus>('idle')
  const error = ref<string | null>(null)

  async function loadUsers(q = query.value): Promise<void> {
    query.value = q
    status.value = 'loading'
    error.value = null
    try {
      const page = await adminApi.users({ q: q || undefined, limit: 100 })
      users.value = page.data
      count.value = page.count
      status.value = 'ready'
    } catch (e) {
      error.value = errorMessage(e)
      status.value = 'error'
    }
  }

  async function updateUser(id: string, body: UserUpdateAdmin): Promise<void> {
    const updated = await adminApi.updateUser(id, body)
    const i = users.value.findIndex((u) => u.id === id)
    if (i >= 0) users.value[i] = updated
  }

  async function loadSettings(): Promise<void> {
    settings.value = await adminApi.settings()
  }

  async function setRegistrationOpen(open: boolean): Promise<void> {
    settings.value = await adminApi.updateSettings(open)
  }

  return { users, count, query, settings, status, error, loadUsers, updateUser, loadSettings, setRegistrationOpen }
})
