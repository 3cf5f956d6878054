import { ref } from 'vue'
import { defineStore } from 'pinia'
import { conversationsApi, type ConversationQuery } from '@/api/conversations'
import { errorMessage } from '@/api/errors'
import type { Conversation, ConversationUpdate } from '@/api/types'
import type { LoadStatus } from '@/stores/assistants'

export type ArchiveFilter = NonNullable<ConversationQuery['archived']>

export const useConversationsStore = defineStore('conversations', () => {
  const items = ref<Conversation[]>([])
  const count = ref(0)
  const query = ref('')
  const archived = ref<ArchiveFilter>('false')
  const status = ref<LoadStatus>('idle')
  const error = ref<string | null>(null)
  let seq = 0

  async function load(opts: { q?: string; archived?: ArchiveFilter } = {}): Promise<void> {
    query.value = opts.q ?? query.value
    archived.value = opts.archived ?? archived.value
    const mine = ++seq
    status.value = 'loading'
    error.value = null
    try {
      const page = await conversationsApi.list({
        q: query.value || undefined,
        archived: archived.value,
        limit: 100,
      })
      if (mine !== seq) return
      items.value = page.data
      count.value = page.count
      status.value = 'ready'
    } catch (e) {
      if (mine !== seq) return
      error.value = errorMessage(e)
      status.value = 'error'
    }
  }

  function upsert(conversation: Conversation): Conversation {
    const i = items.value.findIndex((c) => c.id === conversation.id)
    const visible = archived.value === 'all' || String(conversation.archived) === archived.value
    if (i >= 0 && visible) items.value[i] = conversation
    else if (i >= 0) items.value.splice(i, 1)
    else if (visible) items.value.unshift(conversation)
    return conversation
  }

  async function fetchOne(id: string): Promise<Conversation> {
    const found = await conversationsApi.get(id)
    const i = items.value.findIndex((c) => c.id === id)
    if (i >= 0) items.value[i] = found
    return found
  }

  /** Start a conversation; `reuseEmpty` reopens an untouched one (moved to the top) when there is one. */
  async function create(assistantId: string, title?: string, reuseEmpty = false): Promise<Conversation> {
    const created = await conversationsApi.create(assistantId, title, reuseEmpty)
    const i = items.value.findIndex((c) => c.id === created.id)
    if (i >= 0) items.value.splice(i, 1)
    else count.value += 1
    return upsert(created)
  }

  const update = async (id: string, body: ConversationUpdate) =>
    upsert(await conversationsApi.update(id, body))
  const rename = (id: string, title: string) => update(id, { title })
  const setArchived = (id: string, value: boolean) => update(id, { archived: value })
  /** The conversation's own model ("provider/model"); null: its assistant's. */
  const setModel = (id: string, model: string | null) => update(id, { model })

  async function remove(id: string): Promise<void> {
    await conversationsApi.remove(id)
    items.value = items.value.filter((c) => c.id !== id)
    count.value = Math.max(0, count.value - 1)
  }

  /** Apply a title pushed by the server during a turn. */
  function setTitle(id: string, title: string): void {
    const found = items.value.find((c) => c.id === id)
    if (found) found.title = title
  }

  /** The latest active conversations, for the dashboard. */
  const recent = ref<Conversation[]>([])
  async function loadRecent(limit = 6): Promise<void> {
    recent.value = (await conversationsApi.list({ limit })).data
  }

  function reset(): void {
    items.value = []
    count.value = 0
    query.value = ''
    status.value = 'idle'
  }

  return {
    items, count, query, archived, status, error,
    recent, loadRecent, load, fetchOne, create, update, rename, setArchived, setModel, remove, setTitle, reset,
  }
})
