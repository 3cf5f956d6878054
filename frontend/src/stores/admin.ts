import { ref } from 'vue'
import { defineStore } from 'pinia'
import { adminApi } from '@/api/admin'
import { errorMessage } from '@/api/errors'
import type {
  AccountLink, PlatformSettings, PlatformSettingsUpdate, User, UserCreateAdmin, UserUpdateAdmin,
} from '@/api/types'
import type { LoadStatus } from '@/stores/assistants'

export const useAdminStore = defineStore('admin', () => {
  const users = ref<User[]>([])
  const count = ref(0)
  const query = ref('')
  const pendingOnly = ref(false)
  const settings = ref<PlatformSettings | null>(null)
  const status = ref<LoadStatus>('idle')
  const error = ref<string | null>(null)

  async function loadUsers(q = query.value): Promise<void> {
    query.value = q
    status.value = 'loading'
    error.value = null
    try {
      const page = await adminApi.users({ q: q || undefined, pending: pendingOnly.value || undefined, limit: 100 })
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

  async function createUser(body: UserCreateAdmin): Promise<User> {
    const made = await adminApi.createUser(body)
    users.value.unshift(made)
    count.value += 1
    return made
  }

  const invite = (email: string | null): Promise<AccountLink> => adminApi.invite(email)
  const resetLink = (id: string): Promise<AccountLink> => adminApi.resetLink(id)

  async function deleteUser(id: string, confirmEmail: string): Promise<void> {
    await adminApi.deleteUser(id, confirmEmail)
    users.value = users.value.filter((u) => u.id !== id)
    count.value = Math.max(0, count.value - 1)
  }

  async function loadSettings(): Promise<void> {
    settings.value = await adminApi.settings()
  }

  async function updateSettings(body: PlatformSettingsUpdate): Promise<void> {
    settings.value = await adminApi.updateSettings(body)
  }

  /** Let a waiting account sign in. */
  async function approve(id: string): Promise<void> {
    const approved = await adminApi.approve(id)
    const i = users.value.findIndex((u) => u.id === id)
    if (i >= 0) users.value[i] = approved
    if (pendingOnly.value) await loadUsers()
  }

  /** Delete a waiting account. */
  async function decline(id: string): Promise<void> {
    await adminApi.decline(id)
    users.value = users.value.filter((u) => u.id !== id)
    count.value = Math.max(0, count.value - 1)
  }

  return {
    users, count, query, pendingOnly, settings, status, error, loadUsers, updateUser, createUser, invite, resetLink,
    deleteUser, loadSettings, updateSettings, approve, decline,
  }
})
