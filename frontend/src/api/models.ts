import { client, unwrap } from '@/api/client'

export const modelsApi = {
  list: () => unwrap(client.GET('/api/models')),
}
