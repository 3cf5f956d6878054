import { client, unwrap } from '@/api/client'
import type { ProviderCreate, ProviderUpdate } from '@/api/types'

const byId = (provider_id: string) => ({ params: { path: { provider_id } } })

export const providersApi = {
  list: () => unwrap(client.GET('/api/admin/providers')),
  create: (body: ProviderCreate) => unwrap(client.POST('/api/admin/providers', { body })),
  update: (id: string, body: ProviderUpdate) =>
    unwrap(client.PATCH('/api/admin/providers/{provider_id}', { ...byId(id), body })),
  remove: (id: string) => unwrap(client.DELETE('/api/admin/providers/{provider_id}', byId(id))),
  test: (id: string) => unwrap(client.POST('/api/admin/providers/{provider_id}/test', byId(id))),
}
