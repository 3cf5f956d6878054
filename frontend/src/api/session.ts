/**
 * Tokens: the access token lives in memory only. The (rotating) refresh token never reaches this
 * code: the server keeps it in an HttpOnly SameSite=Strict cookie sent only to /api/auth/refresh, and
 * a refresh proves it comes from this page with the X-CSRF-Token header copied from the readable
 * `ac_csrf` cookie (whose presence also says that a session may exist). docs/security.md.
 * `authFetch` adds the bearer header and, on a 401 that a refresh can cure, refreshes once
 * (single flight, serialised across tabs with the Web Locks API) and retries the request.
 */
import type { components } from '@/api/schema'

export type TokenPair = components['schemas']['TokenPair']
type Listener = (pair: TokenPair | null) => void

const REFRESH_LOCK = 'ac.refresh'
const LEGACY_REFRESH_KEY = 'ac.refresh' // where older versions kept the refresh token: removed on sight
const CSRF_COOKIE = 'ac_csrf'
const REFRESHABLE = new Set(['token_expired', 'session_revoked', 'invalid_token', 'not_authenticated'])

let accessToken: string | null = null
let inflight: Promise<TokenPair | null> | null = null
const listeners = new Set<Listener>()

export function onSessionChange(listener: Listener): () => void {
  listeners.add(listener)
  return () => listeners.delete(listener)
}

function emit(pair: TokenPair | null): void {
  for (const listener of listeners) listener(pair)
}

function csrfToken(): string | null {
  for (const part of document.cookie.split(';')) {
    const [name, ...rest] = part.trim().split('=')
    const value = rest.join('=')
    if (name === CSRF_COOKIE && value) return decodeURIComponent(value)
  }
  return null
}

/** A session may exist (the server set its cookies): worth a silent refresh on load. */
export function hasRefreshToken(): boolean {
  return csrfToken() !== null
}

export function getAccessToken(): string | null {
  return accessToken
}

export function setTokens(pair: TokenPair): void {
  accessToken = pair.access_token
  localStorage.removeItem(LEGACY_REFRESH_KEY)
  emit(pair)
}

export function clearTokens(): void {
  accessToken = null
  localStorage.removeItem(LEGACY_REFRESH_KEY)
  document.cookie = `${CSRF_COOKIE}=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/; SameSite=Strict`
  emit(null)
}

async function doRefresh(): Promise<TokenPair | null> {
  // Read inside the lock: another tab may have rotated the cookies meanwhile.
  const csrf = csrfToken()
  if (!csrf) return null
  let res: Response
  try {
    res = await fetch('/api/auth/refresh', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'X-CSRF-Token': csrf },
    })
  } catch {
    return null // offline: keep the refresh token for a later try
  }
  if (!res.ok) {
    if (res.status === 401 || res.status === 403) clearTokens()
    return null
  }
  const pair = (await res.json()) as TokenPair
  setTokens(pair)
  return pair
}

/** Refresh the token pair once, however many callers ask at the same time. */
export function refreshTokens(): Promise<TokenPair | null> {
  if (inflight) return inflight
  const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined
  const run: Promise<TokenPair | null> = locks
    ? locks.request(REFRESH_LOCK, doRefresh).then((pair) => pair)
    : doRefresh()
  const shared = run.finally(() => {
    inflight = null
  })
  inflight = shared
  return shared
}

function withAuth(request: Request): Request {
  if (accessToken) request.headers.set('Authorization', `Bearer ${accessToken}`)
  return request
}

async function errorCode(res: Response): Promise<string> {
  try {
    const body = (await res.clone().json()) as { error?: { code?: string } }
    return body.error?.code ?? ''
  } catch {
    return ''
  }
}

function isTokenEndpoint(url: string): boolean {
  const path = new URL(url, 'http://x').pathname
  return ['/api/auth/login', '/api/auth/register', '/api/auth/refresh'].includes(path)
}

export async function authFetch(request: Request): Promise<Response> {
  const retry = request.clone()
  const res = await fetch(withAuth(request))
  if (res.status !== 401 || isTokenEndpoint(request.url)) return res
  if (!REFRESHABLE.has(await errorCode(res))) return res
  const pair = await refreshTokens()
  if (!pair) {
    clearTokens()
    return res
  }
  return fetch(withAuth(retry))
}
