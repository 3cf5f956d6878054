import { client, unwrap } from '@/api/client'
import type { RegisterRequest } from '@/api/types'

export const authApi = {
  options: () => unwrap(client.GET('/api/auth/options')),
  login: (email: string, password: string) =>
    unwrap(client.POST('/api/auth/login', { body: { email, password } })),
  register: (body: RegisterRequest) => unwrap(client.POST('/api/auth/register', { body })),
  me: () => unwrap(client.GET('/api/auth/me')),
  /** What happened to the account that its owner should know (e.g. a registration with its email). */
  notices: () => unwrap(client.GET('/api/auth/notices')),
  dismissNotice: (notice_id: string) =>
    unwrap(client.POST('/api/auth/notices/{notice_id}/dismiss', { params: { path: { notice_id } } })),
  updateMe: (name: string) => unwrap(client.PATCH('/api/auth/me', { body: { name } })),
  changePassword: (current_password: string, new_password: string, confirm_password: string) =>
    unwrap(
      client.POST('/api/auth/password', {
        body: { current_password, new_password, confirm_password },
      }),
    ),
  /** The one-time links an administrator hands out (invite, password reset). */
  linkInfo: (token: string) => unwrap(client.GET('/api/auth/links/{token}', { params: { path: { token } } })),
  redeemInvite: (token: string, body: { name: string; email: string; password: string }) =>
    unwrap(client.POST('/api/auth/links/{token}/invite', { params: { path: { token } }, body })),
  redeemReset: (token: string, password: string) =>
    unwrap(client.POST('/api/auth/links/{token}/reset', { params: { path: { token } }, body: { password } })),
  logout: () => unwrap(client.POST('/api/auth/logout')),
  logoutAll: () => unwrap(client.POST('/api/auth/logout-all')),
}
