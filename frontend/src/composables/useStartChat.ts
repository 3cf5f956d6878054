import { ref } from 'vue'
import { useRouter } from 'vue-router'
import { errorMessage } from '@/api/errors'
import { useConversationsStore } from '@/stores/conversations'
import { useToastStore } from '@/stores/toasts'

/** Open a conversation with an assistant: an untouched one if there is one, else a new one (no pile-up). */
export function useStartChat() {
  const conversations = useConversationsStore()
  const toasts = useToastStore()
  const router = useRouter()
  const starting = ref<string | null>(null)

  async function start(assistantId: string): Promise<void> {
    starting.value = assistantId
    try {
      const conversation = await conversations.create(assistantId, undefined, true)
      await router.push({ name: 'chat', params: { conversationId: conversation.id } })
    } catch (e) {
      toasts.error(errorMessage(e))
    } finally {
      starting.value = null
    }
  }

  return { start, starting }
}
