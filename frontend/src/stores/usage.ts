import { computed, ref } from 'vue'
import { defineStore } from 'pinia'
import { errorMessage } from '@/api/errors'
import type { UsageGroup, UsageSummary, UsageTotals } from '@/api/types'
import { usageApi, type UsageQuery } from '@/api/usage'
import type { LoadStatus } from '@/stores/assistants'

export type UsagePeriod = 'month' | '7d' | '30d' | '90d'
export type UsageMetric = 'cost' | 'tokens'

const DAY = 86_400_000

/** The first day of the period (UTC), as YYYY-MM-DD. */
export function periodStart(period: UsagePeriod, now = new Date()): string {
  if (period === 'month') return `${now.toISOString().slice(0, 7)}-01`
  const days = { '7d': 7, '30d': 30, '90d': 90 }[period]
  return new Date(now.getTime() - (days - 1) * DAY).toISOString().slice(0, 10)
}

export const tokensOf = (g: Pick<UsageTotals, 'input_tokens' | 'output_tokens'>) => g.input_tokens + g.output_tokens
export const metricOf = (g: UsageTotals, metric: UsageMetric) => (metric === 'cost' ? g.cost_micros : tokensOf(g))

/** Every day of the period, zero where nothing was used (the API only returns days with usage). */
export function fillDays(groups: UsageGroup[], from: string, now = new Date()): UsageGroup[] {
  const byKey = new Map(groups.map((g) => [g.key, g]))
  const out: UsageGroup[] = []
  const zero = { calls: 0, input_tokens: 0, cached_input_tokens: 0, output_tokens: 0, reasoning_tokens: 0, tool_calls: 0, cost_micros: 0, unpriced_calls: 0 }
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= now.getTime(); t += DAY) {
    const key = new Date(t).toISOString().slice(0, 10)
    out.push(byKey.get(key) ?? { ...zero, key, label: null })
  }
  return out
}

export const useUsageStore = defineStore('usage', () => {
  const period = ref<UsagePeriod>('month')
  const everyone = ref(false)
  const metric = ref<UsageMetric>('cost')
  const byDay = ref<UsageGroup[]>([])
  const byAssistant = ref<UsageGroup[]>([])
  const byModel = ref<UsageGroup[]>([])
  /** The tool calls of runs, by tool: calls and fees. */
  const byTool = ref<UsageGroup[]>([])
  const totals = ref<UsageTotals | null>(null)
  const summary = ref<UsageSummary | null>(null)
  const status = ref<LoadStatus>('idle')
  const error = ref<string | null>(null)
  const query = computed<UsageQuery>(() => ({ from: periodStart(period.value), all: everyone.value || undefined }))
  let seq = 0

  async function load(): Promise<void> {
    const mine = ++seq
    status.value = 'loading'
    error.value = null
    try {
      const q = query.value
      const [days, assistants, models, tools] = await Promise.all(
        (['day', 'assistant', 'model', 'tool'] as const).map((g) => usageApi.report(g, q)))
      if (mine !== seq || !days || !assistants || !models || !tools) return
      byDay.value = fillDays(days.data, q.from ?? periodStart('month'))
      byAssistant.value = assistants.data
      byModel.value = models.data
      byTool.value = tools.data
      totals.value = days.totals
      status.value = 'ready'
    } catch (e) {
      if (mine !== seq) return
      error.value = errorMessage(e)
      status.value = 'error'
    }
  }

  async function loadSummary(): Promise<void> {
    summary.value = await usageApi.summary()
  }

  const exportCsv = () => usageApi.exportCsv(query.value)

  return { period, everyone, metric, byDay, byAssistant, byModel, byTool, totals, summary, status, error, load, loadSummary, exportCsv }
})
