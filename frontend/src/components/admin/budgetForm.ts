import type { BudgetLimits } from '@/api/types'

export type BudgetKey = keyof BudgetLimits
export type FieldMode = 'inherit' | 'unlimited' | 'limit'
export interface BudgetField {
  mode: FieldMode
  /** Dollars for money fields, a count for token fields. */
  value: string
}
export type BudgetDraft = Record<BudgetKey, BudgetField>

export const BUDGET_FIELDS: { key: BudgetKey; label: string; money: boolean }[] = [
  { key: 'user_daily_micros', label: 'Daily spend ($)', money: true },
  { key: 'user_monthly_micros', label: 'Monthly spend ($)', money: true },
  { key: 'user_daily_tokens', label: 'Daily tokens', money: false },
  { key: 'user_monthly_tokens', label: 'Monthly tokens', money: false },
]

const isMoney = (key: BudgetKey) => key.endsWith('_micros')

export function dollars(micros: number): string {
  return String(micros / 1_000_000)
}

export function micros(dollarText: string): number {
  return Math.round(Number(dollarText) * 1_000_000)
}

/** A draft from limits; keys not in `present` inherit (for per-user overrides). */
export function draftFrom(limits: Partial<BudgetLimits>, present?: string[]): BudgetDraft {
  const draft = {} as BudgetDraft
  for (const { key } of BUDGET_FIELDS) {
    const value = limits[key]
    const mode: FieldMode = present && !present.includes(key) ? 'inherit' : value === null || value === undefined ? 'unlimited' : 'limit'
    draft[key] = { mode, value: typeof value === 'number' ? (isMoney(key) ? dollars(value) : String(value)) : '' }
  }
  return draft
}

/** The PATCH body: inherited keys are left out, unlimited ones are null. */
export function bodyFrom(draft: BudgetDraft): BudgetLimits {
  const body: BudgetLimits = {}
  for (const { key } of BUDGET_FIELDS) {
    const field = draft[key]
    if (field.mode === 'inherit') continue
    const text = String(field.value ?? '').trim() // v-model on a number input gives numbers
    if (field.mode === 'unlimited' || text === '') body[key] = null
    else body[key] = isMoney(key) ? micros(text) : Math.round(Number(text))
  }
  return body
}
