import { computed, ref } from 'vue'
import { defineStore } from 'pinia'
import { authApi } from '@/api/auth'
import { clearTokens, hasRefreshToken, onSessionChange, refreshTokens, setTokens } from '@/api/session'
import { ApiError } from '@/api/errors'
import type { AuthOptions, RegisterRequest, RegistrationAccepted, User } from '@/api/types'

export const SIGN_IN_AFTER_REGISTRATION_FAILED =
  'We could not sign you in with this email and password. If you already have an account, sign in with its ' +
  'password, or ask an administrator for a reset link.'

export type AuthStatus = 'unknown' | 'authenticated' | 'anonymous'

export const useAuthStore = defineStore('auth', () => {
  const user = ref<User | null>(null)
  const status = ref<AuthStatus>('unknown')
  const options = ref<AuthOptions | null>(null)
  let ready: Promise<void> | null = null

  const isAuthenticated = computed(() => status.value === 'authenticated')
  const isAdmin = computed(() => user.value?.is_admin === true)

  // Every token change (login, silent refresh, loss) flows through here.
  onSessionChange((pair) => {
    user.value = pair ? pair.user : null
    status.value = pair ? 'authenticated' : 'anonymous'
  })

  /** On load: turn a stored refresh token into a session, once. */
  function init(): Promise<void> {
    ready ??= (async () => {
      if (!hasRefreshToken()) {
        status.value = 'anonymous'
        return
      }
      const pair = await refreshTokens()
      if (!pair) status.value = 'anonymous'
    })()
    return ready
  }

  async function loadOptions(): Promise<AuthOptions> {
    options.value = await authApi.options()
    return options.value
  }

  async function login(email: string, password: string): Promise<void> {
    setTokens(await authApi.login(email, password))
  }

  /**
   * Ask for an account, then sign in when it is ready. The server answers the same whether or not the
   * email already had an account (docs/security.md), so a sign-in that fails here means just that.
   */
  async function register(body: RegisterRequest): Promise<RegistrationAccepted> {
    const accepted = await authApi.register(body)
    if (accepted.status !== 'created') return accepted
    try {
      await login(body.email, body.password)
    } catch (e) {
      if (e instanceof ApiError && e.code === 'invalid_credentials') {
        throw new ApiError(401, 'registration_sign_in_failed', SIGN_IN_AFTER_REGISTRATION_FAILED)
      }
      throw e
    }
    return accepted
  }

  async function updateName(name: string): Promise<void> {
    user.value = await authApi.updateMe(name)
  }

  async function changePassword(current: string, next: string, confirm: string): Promise<void> {
    setTokens(await authApi.changePassword(current, next, confirm))
  }

  async function logout(): Promise<void> {
    try {
      await authApi.logout()
    } catch {
      // Signing out locally matters most; the server session expires on its own.
    }
    clearTokens()
  }

  async function logoutAll(): Promise<void> {
    await authApi.logoutAll()
    clearTokens()
  }

  return {
    user, status, options, isAuthenticated, isAdmin,
    init, loadOptions, login, register, updateName, changePassword, logout, logoutAll,
  }
})
