/** Chat turns and branches (versions) over plain HTTP; streaming goes through lib/chatStream. */
import { client, unwrap } from '@/api/client'

const inConversation = (conversation_id: string, message_id: string) => ({
  params: { path: { conversation_id, message_id } },
})

export const chatApi = {
  thread: (id: string) =>
    unwrap(client.GET('/api/conversations/{conversation_id}/thread', { params: { path: { conversation_id: id } } })),
  select: (id: string, messageId: string) =>
    unwrap(client.POST('/api/conversations/{conversation_id}/messages/{message_id}/select', inConversation(id, messageId))),
  stop: (id: string) =>
    unwrap(client.POST('/api/conversations/{conversation_id}/stop', { params: { path: { conversation_id: id } } })),
  context: (id: string, messageId: string) =>
    unwrap(client.GET('/api/conversations/{conversation_id}/messages/{message_id}/context', inConversation(id, messageId))),
}
