import type { Assistant, AssistantCreate, AssistantToolSpec } from '@/api/types'
import { DEFAULT_MODEL } from '@/types/models'

/** The editable form of an assistant: numbers as strings so an empty field means "default". */
export interface AssistantFormState {
  name: string
  description: string
  instructions: string
  model: string
  tools: AssistantToolSpec[]
  temperature: string
  top_p: string
  max_output_tokens: string
  max_messages: string
  history_window: string
  /** The assistant's own monthly budget: dollars and tokens ("" = no limit of its own). */
  budget_dollars: string
  budget_tokens: string
  /** Summarise messages that leave the history window (API default false; kept as loaded, no field yet). */
  summarize_dropped: boolean
  tags: string[]
}

const str = (n: number | null | undefined) => (n === null || n === undefined ? '' : String(n))

export function toFormState(a?: Assistant | null): AssistantFormState {
  return {
    name: a?.name ?? '',
    description: a?.description ?? '',
    instructions: a?.instructions ?? '',
    model: a?.model ?? DEFAULT_MODEL,
    tools: structuredClone(a?.tools ?? []),
    temperature: str(a?.parameters.temperature),
    top_p: str(a?.parameters.top_p),
    max_output_tokens: str(a?.parameters.max_output_tokens),
    max_messages: str(a?.max_messages ?? 50),
    history_window: str(a?.history_window ?? 20),
    budget_dollars: a?.budget_monthly_micros == null ? '' : String(a.budget_monthly_micros / 1_000_000),
    budget_tokens: str(a?.budget_monthly_tokens),
    summarize_dropped: a?.summarize_dropped ?? false,
    tags: [...(a?.tags ?? [])],
  }
}

function num(text: string | number): number | null {
  const t = String(text).trim()
  if (t === '') return null
  const n = Number(t)
  return Number.isFinite(n) ? n : NaN
}

function dollarsToMicros(text: string): number | null {
  const n = num(text)
  return n === null || Number.isNaN(n) ? n : Math.round(n * 1_000_000)
}

export function toPayload(s: AssistantFormState): AssistantCreate {
  return {
    name: s.name.trim(),
    description: s.description,
    instructions: s.instructions,
    model: s.model.trim(),
    tools: s.tools,
    parameters: { temperature: num(s.temperature), top_p: num(s.top_p), max_output_tokens: num(s.max_output_tokens) },
    max_messages: num(s.max_messages),
    history_window: num(s.history_window),
    budget_monthly_micros: dollarsToMicros(s.budget_dollars),
    budget_monthly_tokens: num(s.budget_tokens),
    summarize_dropped: s.summarize_dropped,
    tags: s.tags,
  }
}
