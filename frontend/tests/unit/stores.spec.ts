import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { clearTokens } from '@/api/session'
import { useAssistantsStore } from '@/stores/assistants'
import { useAuthStore } from '@/stores/auth'
import { json, tokenPair } from './helpers'

function assistant(id: string, name: string) {
  return {
    id, name, description: '', instructions: '', model: 'local/smollm2-135m-instruct', tools: [], parameters: {},
    max_messages: 50, history_window: 20, tags: [], created_at: '', updated_at: '',
  }
}

describe('auth store', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    localStorage.clear()
    clearTokens()
  })
  afterEach(() => vi.unstubAllGlobals())

  it('is anonymous on load without a refresh token, and never calls the API', async () => {
    const fetchMock = vi.fn()
    vi.stubGlobal('fetch', fetchMock)
    const auth = useAuthStore()
    await auth.init()
    expect(auth.status).toBe('anonymous')
    expect(fetchMock).not.toHaveBeenCalled()
  })

  it('restores the session on load from the refresh cookie', async () => {
    document.cookie = 'ac_csrf=c1; path=/' // set by the server with the HttpOnly refresh cookie
    vi.stubGlobal('fetch', vi.fn(async () => json(200, tokenPair())))
    const auth = useAuthStore()
    await auth.init()
    expect(auth.isAuthenticated).toBe(true)
    expect(auth.user?.name).toBe('Ann')
  })

  it('login sets the user; a failed login throws an ApiError with the message', async () => {
    vi.stubGlobal('fetch', vi.fn(async (req: Request) => {
      const body = (await req.json()) as { password: string }
      return body.password === 'right'
        ? json(200, tokenPair())
        : json(401, { error: { code: 'invalid_credentials', message: 'Invalid email or password' } })
    }))
    const auth = useAuthStore()
    await expect(auth.login('ann@example.com', 'wrong')).rejects.toMatchObject({ code: 'invalid_credentials' })
    expect(auth.isAuthenticated).toBe(false)
    await auth.login('ann@example.com', 'right')
    expect(auth.user?.email).toBe('ann@example.com')
  })
})

describe('assistants store', () => {
  beforeEach(() => setActivePinia(createPinia()))
  afterEach(() => vi.unstubAllGlobals())

  it('a slow older search does not overwrite a newer one', async () => {
    let release: (r: Response) => void = () => undefined
    vi.stubGlobal('fetch', vi.fn((req: Request) => {
      const q = new URL(req.url).searchParams.get('q')
      if (q === 'old') return new Promise<Response>((resolve) => { release = resolve })
      return Promise.resolve(json(200, { data: [assistant('2', 'New')], count: 1 }))
    }))
    const store = useAssistantsStore()
    const slow = store.load('old')
    await store.load('new')
    release(json(200, { data: [assistant('1', 'Old')], count: 1 }))
    await slow
    expect(store.items.map((a) => a.name)).toEqual(['New'])
    expect(store.query).toBe('new')
  })

  it('create, update and remove keep the list in step', async () => {
    vi.stubGlobal('fetch', vi.fn(async (req: Request) => {
      if (req.method === 'POST') return json(201, assistant('1', 'A'))
      if (req.method === 'PATCH') return json(200, assistant('1', 'B'))
      return json(204, null)
    }))
    const store = useAssistantsStore()
    await store.create({ name: 'A', description: '', instructions: '', summarize_dropped: false })
    expect(store.count).toBe(1)
    await store.update('1', { name: 'B' })
    expect(store.items.map((a) => a.name)).toEqual(['B'])
    await store.remove('1')
    expect(store.items).toEqual([])
    expect(store.count).toBe(0)
  })

  it('surfaces API errors as state', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => json(500, { error: { code: 'internal_error', message: 'Boom' } })))
    const store = useAssistantsStore()
    await store.load('')
    expect(store.status).toBe('error')
    expect(store.error).toBe('Boom')
  })
})
