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

export function fieldErrors(details: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  if (!Array.isArray(details)) return out
  for (const item of details) {
    if (!isValidationDetail(item)) continue
    const key = item.loc.filter((p) => !LOCATION_ROOTS.has(String(p))).join('.')
    const msg = item.msg.replace(/^Value error, /, '')
    if (key && !(key in out)) out[key] = msg
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
