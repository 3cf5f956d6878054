import { ref } from 'vue'
import { defineStore } from 'pinia'
import { conversationsApi } from '@/api/conversations'
import { errorMessage } from '@/api/errors'
import type { MessageSearchHit } from '@/api/types'

/** Search over message text (the sidebar's search box), newest match first. */
export const useMessageSearchStore = defineStore('messageSearch', () => {
  const query = ref('')
  const hits = ref<MessageSearchHit[]>([])
  const error = ref<string | null>(null)
  let seq = 0

  async function search(q: string): Promise<void> {
    query.value = q.trim()
    const mine = ++seq
    error.value = null
    if (!query.value) {
      hits.value = []
      return
    }
    try {
      const found = await conversationsApi.searchMessages(query.value)
      if (mine === seq) hits.value = found.data
    } catch (e) {
      if (mine !== seq) return
      hits.value = []
      error.value = errorMessage(e)
    }
  }

  return { query, hits, error, search }
})
