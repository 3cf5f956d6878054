import { describe, expect, it } from 'vitest'
import { nextTick, ref } from 'vue'
import { ApiError, fieldErrors, toApiError } from '@/api/errors'
import { toFormState, toPayload } from '@/components/assistants/formState'
import { readDraft, useDraft } from '@/composables/useDraft'

describe('API errors', () => {
  it('maps validation details to fields, dropping body/query prefixes', () => {
    const err = toApiError(422, {
      error: {
        code: 'validation_error', message: 'email: bad',
        details: [
          { loc: ['body', 'email'], msg: 'value is not a valid email address', type: 'value_error' },
          { loc: ['body', 'tools', 0, 'name'], msg: 'String should match pattern', type: 'string_pattern_mismatch' },
          { loc: ['body', 'password'], msg: 'Value error, too short', type: 'value_error' },
        ],
      },
    })
    expect(err).toBeInstanceOf(ApiError)
    expect(err.fieldErrors).toEqual({
      email: 'Enter a valid email address.', 'tools.0.name': 'Use only the characters allowed here (see the hint).',
      password: 'Too short',
    })
  })

  it('says what is wrong in plain words, never a regex or the validator\'s phrasing', () => {
    const said = fieldErrors([
      { loc: ['body', 'name'], msg: "String should match pattern '^[a-z0-9][a-z0-9_-]{0,39}$'", type: 'string_pattern_mismatch' },
      { loc: ['body', 'title'], msg: 'String should have at least 1 character', type: 'string_too_short' },
      { loc: ['body', 'bio'], msg: 'String should have at most 300 characters', type: 'string_too_long' },
      { loc: ['body', 'n'], msg: 'Input should be greater than or equal to 2', type: 'greater_than_equal' },
      { loc: ['body', 'k'], msg: 'Input should be a valid integer, unable to parse string as an integer', type: 'int_parsing' },
      { loc: ['body', 'agent'], msg: 'Field required', type: 'missing' },
      { loc: ['body', 'z'], msg: 'Input should be a finite number', type: 'finite_number' },
      { loc: ['body', 'tools', 0, 'function', 'name'], msg: "String should match pattern '^x$'", type: 'string_pattern_mismatch' },
    ])
    expect(said).toEqual({
      name: 'Use only the characters allowed here (see the hint).', title: 'This field is required.',
      bio: 'Too long: use at most 300 characters.', n: 'Must be at least 2.', k: 'Enter a whole number.',
      agent: 'This field is required.', z: 'This value is not valid.',
      'tools.0.function.name': 'Use only the characters allowed here (see the hint).',
      'tools.0.name': 'Use only the characters allowed here (see the hint).',
    })
    for (const text of Object.values(said)) expect(text).not.toMatch(/should|\^|\$'|pattern/)
  })

  it('falls back to a generic error for non-JSON bodies', () => {
    expect(toApiError(502, 'Bad gateway')).toMatchObject({ code: 'http_error', status: 502 })
    expect(fieldErrors(null)).toEqual({})
  })
})

describe('assistant form state', () => {
  it('turns empty numeric fields into null (defaults) and trims', () => {
    const state = toFormState()
    state.name = '  Helper '
    state.temperature = '0.7'
    state.max_output_tokens = ''
    const payload = toPayload(state)
    expect(payload).toMatchObject({
      name: 'Helper', model: 'local/smollm2-135m-instruct', max_messages: 50, history_window: 20,
      parameters: { temperature: 0.7, top_p: null, max_output_tokens: null },
    })
  })
})

describe('useDraft', () => {
  it('persists drafts per conversation and restores them', async () => {
    localStorage.clear()
    const key = ref<string | null>('c1')
    const draft = useDraft(key)
    draft.text.value = 'hello'
    await nextTick()
    expect(readDraft('c1')).toBe('hello')
    key.value = 'c2'
    await nextTick()
    expect(draft.text.value).toBe('')
    key.value = 'c1'
    await nextTick()
    expect(draft.text.value).toBe('hello')
    draft.clear()
    await nextTick()
    expect(readDraft('c1')).toBe('')
  })
})
