import { afterEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { adminApi } from '@/api/admin'
import { ApiError } from '@/api/errors'
import { providersApi } from '@/api/providers'
import type { ProviderCreate } from '@/api/types'
import ProviderDialog from '@/components/admin/ProviderDialog.vue'

const REFUSAL = new ApiError(422, 'private_network', 'localhost resolves to 127.0.0.1, which is a loopback address. Providers reach…', [
  { loc: ['body', 'allow_private_network'], msg: 'localhost resolves to 127.0.0.1, which is a loopback address', type: 'private_network' },
])

function field(label: string): HTMLInputElement {
  const id = [...document.querySelectorAll('label')].find((l) => l.textContent?.trim().startsWith(label))?.getAttribute('for')
  return document.getElementById(id ?? '') as HTMLInputElement
}

describe('provider dialog', () => {
  afterEach(() => {
    vi.restoreAllMocks()
    document.body.innerHTML = ''
  })

  it('asks before reaching the private network and saves with the flag once allowed', async () => {
    setActivePinia(createPinia())
    vi.spyOn(adminApi, 'users').mockResolvedValue({ data: [], count: 0 })
    vi.spyOn(providersApi, 'list').mockResolvedValue([])
    const sent: ProviderCreate[] = []
    vi.spyOn(providersApi, 'create').mockImplementation(async (body) => {
      sent.push(structuredClone(body))
      if (!body.allow_private_network) throw REFUSAL
      return { id: 'p1', name: body.name, kind: body.kind, base_url: body.base_url ?? null, has_api_key: false,
        models: [], enabled: true, allow_private_network: true, allowed_user_ids: null, source: 'admin' }
    })
    const w = mount(ProviderDialog, { props: { provider: null }, attachTo: document.body })
    await flushPromises()
    field('Name').value = 'ollama'
    field('Name').dispatchEvent(new Event('input'))
    field('Base URL').value = 'http://localhost:11434/v1'
    field('Base URL').dispatchEvent(new Event('input'))
    document.querySelector('form')!.dispatchEvent(new Event('submit'))
    await flushPromises()

    const ask = document.querySelector('[data-testid="private-network-ask"]')
    expect(ask?.textContent).toContain('loopback address')
    expect(w.emitted('saved')).toBeUndefined()
    const allow = [...ask!.querySelectorAll('button')].find((b) => b.textContent?.includes('Allow the private network'))
    allow!.click()
    await flushPromises()

    expect(sent.map((b) => b.allow_private_network)).toEqual([false, true])
    expect(sent[1]!.base_url).toBe('http://localhost:11434/v1')
    expect(w.emitted('saved')).toEqual([['Provider added']])
    w.unmount()
  })
})
