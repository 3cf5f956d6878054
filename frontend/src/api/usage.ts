/** Usage reports (money in micro-dollars) and the CSV export. */
import { client, unwrap } from '@/api/client'
import { toApiError } from '@/api/errors'
import { authFetch } from '@/api/session'

export type UsageGroupBy = 'day' | 'assistant' | 'model' | 'conversation' | 'kind' | 'user' | 'tool'

export interface UsageQuery {
  from?: string
  to?: string
  all?: boolean
}

export const usageApi = {
  report: (group_by: UsageGroupBy, query: UsageQuery = {}) =>
    unwrap(client.GET('/api/usage', { params: { query: { ...query, group_by } } })),
  summary: () => unwrap(client.GET('/api/usage/summary')),
  /** The CSV (one row per model call) as text; the bearer token rules out a plain link. */
  async exportCsv(query: UsageQuery = {}): Promise<string> {
    const params = new URLSearchParams()
    if (query.from) params.set('from', query.from)
    if (query.to) params.set('to', query.to)
    if (query.all) params.set('all', 'true')
    const res = await authFetch(new Request(`/api/usage/export.csv?${params.toString()}`))
    if (!res.ok) throw toApiError(res.status, await res.json().catch(() => null))
    return res.text()
  },
}
