/**
 * Tokens: the access token lives in memory only, the (rotating) refresh token in localStorage.
 * `authFetch` adds the bearer header and, on a 401 that a refresh can cure, refreshes once
 * (single flight, serialised across tabs with the Web Locks API) and retries the request.
 */
import type { components } from '@/api/schema'

export type TokenPair = components['schemas']['TokenPair']
type Listener = (pair: TokenPair | null) => void

const REFRESH_KEY = 'ac.refresh'
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

export function hasRefreshToken(): boolean {
  return localStorage.getItem(REFRESH_KEY) !== null
}

export function getAccessToken(): string | null {
  return accessToken
}

export function setTokens(pair: TokenPair): void {
  accessToken = pair.access_token
  localStorage.setItem(REFRESH_KEY, pair.refresh_token)
  emit(pair)
}

export function clearTokens(): void {
  accessToken = null
  localStorage.removeItem(REFRESH_KEY)
  emit(null)
}

async function doRefresh(): Promise<TokenPair | null> {
  // Read inside the lock: another tab may have rotated the token meanwhile.
  const token = localStorage.getItem(REFRESH_KEY)
  if (!token) return null
  let res: Response
  try {
    res = await fetch('/api/auth/refresh', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refresh_token: token }),
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
    ? locks.request(REFRESH_KEY, doRefresh).then((pair) => pair)
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
