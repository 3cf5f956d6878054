import { describe, expect, it } from 'vitest'
import { toFormState, toPayload } from '@/components/assistants/formState'

describe('assistant form state', () => {
  it('is off by default and sends the older-messages summary setting as chosen', () => {
    const fresh = toFormState(null)
    expect(fresh.summarize_dropped).toBe(false)
    expect(toPayload({ ...fresh, name: ' Helper ' })).toMatchObject({ name: 'Helper', summarize_dropped: false })
    expect(toPayload({ ...fresh, name: 'Helper', summarize_dropped: true }).summarize_dropped).toBe(true)
  })

  it('turns empty number fields into nulls (platform defaults) and dollars into micro-dollars', () => {
    const state = { ...toFormState(null), name: 'X', max_messages: '', budget_dollars: '1.25' }
    const payload = toPayload(state)
    expect(payload.max_messages).toBeNull()
    expect(payload.budget_monthly_micros).toBe(1_250_000)
  })
})
