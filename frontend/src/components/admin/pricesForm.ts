import type { Prices, PricesUpdate } from '@/api/types'
import { dollars, micros } from '@/components/admin/budgetForm'

export interface ModelPriceRow {
  pattern: string
  input: string
  cached: string
  output: string
}

export interface ToolPriceRow {
  tool: string
  perThousand: string
}

/** Prices are shown in dollars per 1M tokens (tools: per 1,000 calls); stored in micro-dollars. */
export function rowsFrom(p: Prices): { models: ModelPriceRow[]; tools: ToolPriceRow[] } {
  return {
    models: p.models.map((m) => ({
      pattern: m.pattern, input: dollars(m.input_per_1m), output: dollars(m.output_per_1m),
      cached: m.cached_input_per_1m === null || m.cached_input_per_1m === undefined ? '' : dollars(m.cached_input_per_1m),
    })),
    tools: p.tools.map((t) => ({ tool: t.tool, perThousand: dollars(t.per_1k_calls) })),
  }
}

export function bodyFromRows(models: ModelPriceRow[], tools: ToolPriceRow[], note: string): PricesUpdate {
  return {
    note,
    models: models.filter((m) => m.pattern.trim()).map((m) => ({
      pattern: m.pattern.trim(), input_per_1m: micros(String(m.input || 0)), output_per_1m: micros(String(m.output || 0)),
      cached_input_per_1m: String(m.cached ?? '').trim() === '' ? null : micros(String(m.cached)),
    })),
    tools: tools.filter((t) => t.tool.trim()).map((t) => ({ tool: t.tool.trim(), per_1k_calls: micros(String(t.perThousand || 0)) })),
  }
}
