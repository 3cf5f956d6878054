/**
 * A model the server offers (GET /api/models, not served yet). Replace with the generated
 * schema type once the endpoint is in openapi.json.
 */
export interface ModelInfo {
  id: string
  provider: string
  name: string
  context_length?: number | null
  vision?: boolean
  tools?: boolean
  local?: boolean
}

export const DEFAULT_MODEL = 'local/smollm2-135m-instruct'

/** Shown until the server lists its models. */
export const FALLBACK_MODELS: ModelInfo[] = [
  { id: DEFAULT_MODEL, provider: 'local', name: 'SmolLM2 135M Instruct (local)', local: true },
]
