import type { Provider, ProviderCreate, ProviderUpdate } from '@/api/types'

export interface ModelRow {
  name: string
  context_length: string
  vision: boolean
  tools: boolean
}

export interface ProviderFormState {
  name: string
  kind: 'openai' | 'openai_compatible'
  base_url: string
  api_key: string
  removeKey: boolean
  enabled: boolean
  models: ModelRow[]
  /** The base URL's host may be on a loopback or private address (asked, never assumed). */
  allow_private_network: boolean
  /** null: every user; else administrators and these user ids. */
  allowed_user_ids: string[] | null
}

export function formFrom(p: Provider | null): ProviderFormState {
  return {
    name: p?.name ?? '',
    kind: p?.kind === 'openai' ? 'openai' : p ? 'openai_compatible' : 'openai',
    base_url: p?.base_url ?? '',
    api_key: '',
    removeKey: false,
    enabled: p?.enabled ?? true,
    allow_private_network: p?.allow_private_network ?? false,
    allowed_user_ids: p?.allowed_user_ids ? [...p.allowed_user_ids] : null,
    models: (p?.models ?? []).map((m) => ({
      name: m.name, context_length: m.context_length ? String(m.context_length) : '',
      vision: m.vision ?? false, tools: m.tools ?? false,
    })),
  }
}

function models(form: ProviderFormState): ProviderCreate['models'] {
  return form.models.filter((m) => m.name.trim()).map((m) => ({
    name: m.name.trim(),
    context_length: m.context_length ? Number(m.context_length) : null,
    vision: m.vision, tools: m.tools,
  }))
}

export function toCreate(form: ProviderFormState): ProviderCreate {
  return {
    name: form.name.trim(), kind: form.kind, base_url: form.base_url.trim() || null,
    api_key: form.api_key || null, models: models(form), enabled: form.enabled,
    allow_private_network: form.allow_private_network, allowed_user_ids: form.allowed_user_ids,
  }
}

/** Only send the key when a new one was typed (it is never shown back), or "" to remove it. */
export function toUpdate(form: ProviderFormState): ProviderUpdate {
  const body: ProviderUpdate = {
    base_url: form.base_url.trim() || null, models: models(form), enabled: form.enabled,
    allow_private_network: form.allow_private_network, allowed_user_ids: form.allowed_user_ids,
  }
  if (form.removeKey) body.api_key = ''
  else if (form.api_key) body.api_key = form.api_key
  return body
}
