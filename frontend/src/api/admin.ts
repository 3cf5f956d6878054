import { client, unwrap } from '@/api/client'
import type { PlatformSettingsUpdate, UserCreateAdmin, UserUpdateAdmin } from '@/api/types'

export const adminApi = {
  users: (query: { q?: string; pending?: boolean; limit?: number; offset?: number } = {}) =>
    unwrap(client.GET('/api/admin/users', { params: { query } })),
  updateUser: (user_id: string, body: UserUpdateAdmin) =>
    unwrap(client.PATCH('/api/admin/users/{user_id}', { params: { path: { user_id } }, body })),
  createUser: (body: UserCreateAdmin) => unwrap(client.POST('/api/admin/users', { body })),
  invite: (email: string | null) => unwrap(client.POST('/api/admin/invites', { body: { email } })),
  resetLink: (user_id: string) =>
    unwrap(client.POST('/api/admin/users/{user_id}/reset-link', { params: { path: { user_id } } })),
  deleteUser: (user_id: string, confirm_email: string) =>
    unwrap(client.DELETE('/api/admin/users/{user_id}', { params: { path: { user_id } }, body: { confirm_email } })),
  audit: (query: { limit?: number; offset?: number } = {}) =>
    unwrap(client.GET('/api/admin/audit', { params: { query } })),
  settings: () => unwrap(client.GET('/api/admin/settings')),
  updateSettings: (body: PlatformSettingsUpdate) => unwrap(client.PATCH('/api/admin/settings', { body })),
  approve: (user_id: string) =>
    unwrap(client.POST('/api/admin/users/{user_id}/approve', { params: { path: { user_id } } })),
  decline: (user_id: string) =>
    unwrap(client.POST('/api/admin/users/{user_id}/decline', { params: { path: { user_id } } })),
}
