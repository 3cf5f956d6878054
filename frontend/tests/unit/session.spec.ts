import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { authFetch, clearTokens, getAccessToken, hasRefreshToken, refreshTokens, setTokens } from '@/api/session'
import { json, tokenPair } from './helpers'

describe('session: tokens and silent refresh', () => {
  beforeEach(() => {
    localStorage.clear()
    clearTokens()
    document.cookie = 'ac_csrf=c1; path=/' // as the server sets it with the HttpOnly refresh cookie
  })
  afterEach(() => vi.unstubAllGlobals())

  it('keeps the access token in memory and stores no token anywhere', () => {
    localStorage.setItem('ac.refresh', 'legacy')
    setTokens(tokenPair('acc', 'ref'))
    expect(getAccessToken()).toBe('acc')
    expect(localStorage.getItem('ac.refresh')).toBeNull() // an older version's copy is removed
    expect(JSON.stringify(localStorage)).not.toContain('acc')
    expect(JSON.stringify(localStorage)).not.toContain('ref')
    expect(document.cookie).not.toContain('ref')
  })

  it('refreshes once on token_expired and retries with the new token', async () => {
    setTokens(tokenPair('old', 'r1'))
    const seen: string[] = []
    const fetchMock = vi.fn(async (input: Request | string, init?: RequestInit) => {
      const req = input instanceof Request ? input : new Request(input, init)
      const url = new URL(req.url, 'http://x').pathname
      seen.push(`${url} ${req.headers.get('Authorization') ?? ''}`)
      if (url === '/api/auth/refresh') {
        expect(await req.text()).toBe('') // the refresh token travels in the HttpOnly cookie
        expect(req.headers.get('X-CSRF-Token')).toBe('c1')
        expect(init?.credentials ?? req.credentials).toBe('same-origin')
        return json(200, { ...tokenPair('new'), refresh_token: null })
      }
      if (req.headers.get('Authorization') === 'Bearer old') {
        return json(401, { error: { code: 'token_expired', message: 'expired' } })
      }
      return json(200, { ok: true })
    })
    vi.stubGlobal('fetch', fetchMock)
    const res = await authFetch(new Request('http://localhost/api/assistants', { method: 'POST', body: '{"a":1}' }))
    expect(res.status).toBe(200)
    expect(seen).toEqual(['/api/assistants Bearer old', '/api/auth/refresh ', '/api/assistants Bearer new'])
    expect(getAccessToken()).toBe('new')
  })

  it('single-flights concurrent refreshes', async () => {
    setTokens(tokenPair('a', 'r1'))
    const fetchMock = vi.fn(async () => json(200, tokenPair('b', 'r2')))
    vi.stubGlobal('fetch', fetchMock)
    const [x, y] = await Promise.all([refreshTokens(), refreshTokens()])
    expect(x?.access_token).toBe('b')
    expect(y).toBe(x)
    expect(fetchMock).toHaveBeenCalledTimes(1)
  })

  it('does not try a refresh without the session cookie', async () => {
    document.cookie = 'ac_csrf=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/'
    const fetchMock = vi.fn(async () => json(200, tokenPair('b')))
    vi.stubGlobal('fetch', fetchMock)
    expect(hasRefreshToken()).toBe(false)
    expect(await refreshTokens()).toBeNull()
    expect(fetchMock).not.toHaveBeenCalled()
  })

  it('drops the session when the refresh is refused', async () => {
    setTokens(tokenPair('old', 'r1'))
    vi.stubGlobal('fetch', vi.fn(async (input: Request | string) => {
      const url = typeof input === 'string' ? input : input.url
      return url.endsWith('/api/auth/refresh')
        ? json(401, { error: { code: 'invalid_refresh_token', message: 'no' } })
        : json(401, { error: { code: 'session_revoked', message: 'revoked' } })
    }))
    const res = await authFetch(new Request('http://localhost/api/auth/me'))
    expect(res.status).toBe(401)
    expect(hasRefreshToken()).toBe(false)
    expect(getAccessToken()).toBeNull()
  })

  it('does not refresh on other 401s or on the login endpoint', async () => {
    setTokens(tokenPair('t', 'r1'))
    const fetchMock = vi.fn(async () => json(401, { error: { code: 'invalid_credentials', message: 'bad' } }))
    vi.stubGlobal('fetch', fetchMock)
    await authFetch(new Request('http://localhost/api/auth/login', { method: 'POST', body: '{}' }))
    await authFetch(new Request('http://localhost/api/assistants'))
    expect(fetchMock).toHaveBeenCalledTimes(2)
  })
})
