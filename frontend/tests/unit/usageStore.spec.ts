import { beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { usageApi } from '@/api/usage'
import { fillDays, periodStart, useUsageStore } from '@/stores/usage'

const totals = { calls: 1, input_tokens: 10, cached_input_tokens: 0, output_tokens: 5, reasoning_tokens: 0, tool_calls: 0, cost_micros: 1500, unpriced_calls: 0 }
const report = (group_by: string, data: object[]) => ({ from: '', to: '', group_by, user_id: 'u1', data, totals })

describe('usage store', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it('periods start on the first of the month or N-1 days back', () => {
    const now = new Date('2026-11-21T10:00:00Z')
    expect(periodStart('month', now)).toBe('2026-11-01')
    expect(periodStart('7d', now)).toBe('2026-11-15')
  })

  it('fills the days without usage with zeros', () => {
    const days = fillDays([{ ...totals, key: '2026-11-02', label: null }], '2026-11-01', new Date('2026-11-03T12:00:00Z'))
    expect(days.map((d) => [d.key, d.cost_micros])).toEqual([['2026-11-01', 0], ['2026-11-02', 1500], ['2026-11-03', 0]])
  })

  it('loads the day, assistant, model and tool reports for the period and scope', async () => {
    const spy = vi.spyOn(usageApi, 'report').mockImplementation(async (g) => report(g, g === 'model'
      ? [{ ...totals, key: 'local/smollm2', label: null }]
      : g === 'tool' ? [{ ...totals, key: 'web_search', label: null, cost_micros: 10_000 }] : []) as never)
    const usage = useUsageStore()
    usage.everyone = true
    await usage.load()
    expect(spy.mock.calls.map((c) => c[0])).toEqual(['day', 'assistant', 'model', 'tool'])
    expect(usage.byTool.map((g) => [g.key, g.cost_micros])).toEqual([['web_search', 10_000]])
    expect(spy.mock.calls[0]?.[1]).toMatchObject({ all: true, from: periodStart('month') })
    expect(usage.byModel[0]?.key).toBe('local/smollm2')
    expect(usage.totals?.cost_micros).toBe(1500)
    expect(usage.byDay.length).toBeGreaterThan(0)
    expect(usage.status).toBe('ready')
  })

  it('reports a failed load', async () => {
    vi.spyOn(usageApi, 'report').mockRejectedValue(new Error('boom'))
    const usage = useUsageStore()
    await usage.load()
    expect(usage.status).toBe('error')
    expect(usage.error).toBe('boom')
  })
})
