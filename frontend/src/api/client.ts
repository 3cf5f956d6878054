/** The typed API client (openapi-fetch over the generated schema) and `unwrap` for its results. */
import createClient from 'openapi-fetch'
import type { paths } from '@/api/schema'
import { authFetch } from '@/api/session'
import { toApiError } from '@/api/errors'

export const client = createClient<paths>({ baseUrl: '', fetch: authFetch })

interface FetchResult<T> {
  data?: T
  error?: unknown
  response: Response
}

/** Return the data of a successful call; throw an ApiError otherwise. */
export async function unwrap<T>(call: Promise<FetchResult<T>>): Promise<T> {
  let result: FetchResult<T>
  try {
    result = await call
  } catch {
    throw toApiError(0, null)
  }
  if (!result.response.ok) throw toApiError(result.response.status, result.error)
  return result.data as T
}
