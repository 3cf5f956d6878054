/** The API's error shape, `{"error": {"code", "message", "details"?}}`, as a thrown value. */

export interface ValidationDetail {
  loc: (string | number)[]
  msg: string
  type: string
}

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly details: unknown

  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.details = details
  }

  /** Field-level messages keyed by the last location segment ("email", "name", "tools.0.name"). */
  get fieldErrors(): Record<string, string> {
    return fieldErrors(this.details)
  }
}

function isValidationDetail(value: unknown): value is ValidationDetail {
  if (typeof value !== 'object' || value === null) return false
  const item = value as Record<string, unknown>
  return Array.isArray(item.loc) && typeof item.msg === 'string'
}

const LOCATION_ROOTS = new Set(['body', 'query', 'path', 'header'])

const firstNumber = (msg: string): string | null => /(\d[\d_,.]*)/.exec(msg)?.[1] ?? null

/**
 * A validator's message in words a person reads: never a regex or pydantic's phrasing. Our own
 * `ValueError`s ("Value error, …") are written for people and are kept.
 */
export function readableMessage(item: ValidationDetail): string {
  const msg = item.msg
  const n = firstNumber(msg)
  switch (item.type) {
    case 'missing':
      return 'This field is required.'
    case 'string_too_short':
    case 'too_short':
      return n === null || n === '1' ? 'This field is required.' : `Too short: use at least ${n} characters.`
    case 'string_too_long':
    case 'too_long':
      return n ? `Too long: use at most ${n} characters.` : 'Too long.'
    case 'string_pattern_mismatch':
      return 'Use only the characters allowed here (see the hint).'
    case 'greater_than_equal':
    case 'greater_than':
      return n ? `Must be ${item.type === 'greater_than' ? 'more than' : 'at least'} ${n}.` : 'Too small.'
    case 'less_than_equal':
    case 'less_than':
      return n ? `Must be ${item.type === 'less_than' ? 'less than' : 'at most'} ${n}.` : 'Too large.'
    case 'int_parsing':
    case 'int_type':
    case 'int_from_float':
      return 'Enter a whole number.'
    case 'float_parsing':
    case 'float_type':
      return 'Enter a number.'
    case 'literal_error':
    case 'enum':
      return 'Choose one of the options.'
    case 'string_type':
      return 'Enter some text.'
    case 'url_parsing':
    case 'url_scheme':
    case 'url_type':
      return 'Enter a full web address (https://…).'
    case 'json_invalid':
      return 'This is not valid JSON.'
    default:
      break
  }
  if (/email/i.test(msg) && /not a valid|valid email/i.test(msg)) return 'Enter a valid email address.'
  if (msg.startsWith('Value error, ')) {
    const own = msg.slice('Value error, '.length)
    return own.charAt(0).toUpperCase() + own.slice(1)
  }
  // Pydantic's own phrasing ("Input should be …", "String should …") is not for people.
  if (/^(Input|String|Value|List|Dictionary|Object) should\b/.test(msg) || /should (be|match|have)\b/.test(msg)) {
    return 'This value is not valid.'
  }
  return msg
}

export function fieldErrors(details: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  if (!Array.isArray(details)) return out
  for (const item of details) {
    if (!isValidationDetail(item)) continue
    const loc = item.loc.filter((p) => !LOCATION_ROOTS.has(String(p)))
    const message = readableMessage(item)
    const key = loc.join('.')
    if (key && !(key in out)) out[key] = message
    // A tagged union puts its tag after the list index (tools.0.function.name): the form's key has none.
    const untagged = loc.filter((p, i) => !(i > 0 && typeof loc[i - 1] === 'number' && typeof p === 'string' && i < loc.length - 1)).join('.')
    if (untagged !== key && !(untagged in out)) out[untagged] = message
  }
  return out
}

interface ErrorBody {
  error?: { code?: unknown; message?: unknown; details?: unknown }
}

/** Build an ApiError from a parsed body (or anything else a failed call produced). */
export function toApiError(status: number, body: unknown): ApiError {
  const err = (body as ErrorBody | null)?.error
  if (err && typeof err.code === 'string') {
    const message = typeof err.message === 'string' ? err.message : err.code
    return new ApiError(status, err.code, message, err.details)
  }
  return new ApiError(status, status === 0 ? 'network_error' : 'http_error', `Request failed (${status})`)
}

export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message
  if (error instanceof Error) return error.message
  return 'Something went wrong'
}
