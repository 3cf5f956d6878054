import type { MessageSnapshot } from '@/types/stream'

export function snapshot(over: Partial<MessageSnapshot> = {}): MessageSnapshot {
  return {
    id: 'm1', conversation_id: 'c1', role: 'assistant', content: [], text: '', status: 'streaming',
    created_at: '2025-01-01T00:00:00Z', updated_at: '2025-01-01T00:00:00Z', ...over,
  }
}

/** A fetch Response carrying JSON. */
export function json(status: number, body: unknown): Response {
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' },
  })
}

export function tokenPair(access = 'a1', refresh = 'r1') {
  return {
    access_token: access, refresh_token: refresh, token_type: 'bearer' as const, expires_in: 900,
    user: { id: 'u1', email: 'ann@example.com', name: 'Ann', is_admin: false, is_disabled: false, is_pending: false, created_at: '2025-01-01T00:00:00Z', last_login_at: null },
  }
}
