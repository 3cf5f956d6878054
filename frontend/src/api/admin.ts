import { client, unwrap } from '@/api/client'
import type { UserUpdateAdmin } from '@/api/types'

export const adminApi = {
  users: (query: { q?: string; limit?: number; offset?: number } = {}) =>
    unwrap(client.GET('/api/admin/users', { params: { query } })),
  updateUser: (user_id: string, body: UserUpdateAdmin) =>
    unwrap(client.PATCH('/api/admin/users/{user_id}', { params: { path: { user_id } }, body })),
  settings: () => unwrap(client.GET('/api/admin/settings')),
  updateSettings: (registration_open: boolean) =>
    unwrap(client.PATCH('/api/admin/settings', { body: { registration_open } })),
}
