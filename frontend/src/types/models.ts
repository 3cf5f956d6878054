import type { components } from '@/api/schema'

/** A model the server offers (GET /api/models). */
export type ModelInfo = components['schemas']['ModelPublic']

export const DEFAULT_MODEL = 'local/smollm2-135m-instruct'

/** Shown until (or when) the server's list cannot be loaded. */
export const FALLBACK_MODELS: ModelInfo[] = [
  {
    id: DEFAULT_MODEL, provider: 'local', name: 'SmolLM2 135M Instruct (local)', local: true,
    context_length: 8192, max_output_tokens: 2048, tools: false, vision: false, hosted_tools: [],
  },
]
