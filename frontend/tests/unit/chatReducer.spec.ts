import { beforeEach, describe, expect, it } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { useChatStore } from '@/stores/chat'
import { useConversationsStore } from '@/stores/conversations'
import { snapshot } from './helpers'

describe('chat store applyEvent', () => {
  beforeEach(() => setActivePinia(createPinia()))

  function started(chat: ReturnType<typeof useChatStore>) {
    chat.state.conversationId = 'c1'
    chat.applyEvent({
      type: 'turn_started', turn_id: 't1', conversation_id: 'c1',
      user_message: snapshot({ id: 'u1', role: 'user', text: 'hi', status: 'complete' }),
      assistant_message: snapshot({ id: 'a1' }),
    })
  }

  it('turn_started adds the user and assistant messages and opens a turn', () => {
    const chat = useChatStore()
    started(chat)
    expect(chat.state.messages.map((m) => m.id)).toEqual(['u1', 'a1'])
    expect(chat.state.turn).toEqual({ turnId: 't1', messageId: 'a1', queuePosition: null, activity: null })
    expect(chat.isStreaming).toBe(true)
  })

  it('replaces the optimistic local user message with the server copy', () => {
    const chat = useChatStore()
    chat.state.conversationId = 'c1'
    chat.state.messages.push(snapshot({ id: 'local-1', role: 'user', text: 'hi', status: 'complete' }))
    started(chat)
    expect(chat.state.messages.map((m) => m.id)).toEqual(['u1', 'a1'])
  })

  it('text_delta appends to the right message and clears the queue position', () => {
    const chat = useChatStore()
    started(chat)
    chat.applyEvent({ type: 'queued', message_id: 'a1', position: 3 })
    expect(chat.state.turn?.queuePosition).toBe(3)
    chat.applyEvent({ type: 'text_delta', message_id: 'a1', text: 'Hel' })
    chat.applyEvent({ type: 'text_delta', message_id: 'a1', text: 'lo' })
    chat.applyEvent({ type: 'text_delta', message_id: 'nope', text: 'x' })
    expect(chat.state.messages[1]?.text).toBe('Hello')
    expect(chat.state.turn?.queuePosition).toBeNull()
  })

  it('usage is recorded on the message', () => {
    const chat = useChatStore()
    started(chat)
    chat.applyEvent({ type: 'usage', message_id: 'a1', usage: { output_tokens: 5 } })
    expect(chat.state.messages[1]?.usage).toEqual({ output_tokens: 5 })
  })

  it('turn_completed stores the final snapshot and ends the turn', () => {
    const chat = useChatStore()
    started(chat)
    chat.applyEvent({ type: 'text_delta', message_id: 'a1', text: 'partial' })
    chat.applyEvent({ type: 'turn_completed', message: snapshot({ id: 'a1', text: 'Final', status: 'complete' }) })
    expect(chat.state.messages[1]).toMatchObject({ text: 'Final', status: 'complete' })
    expect(chat.state.turn).toBeNull()
    expect(chat.state.error).toBeNull()
  })

  it('turn_stopped keeps what was produced, marked stopped', () => {
    const chat = useChatStore()
    started(chat)
    chat.applyEvent({ type: 'turn_stopped', message: snapshot({ id: 'a1', text: 'Half', status: 'stopped' }) })
    expect(chat.state.messages[1]?.status).toBe('stopped')
    expect(chat.isStreaming).toBe(false)
  })

  it('turn_failed records the error', () => {
    const chat = useChatStore()
    started(chat)
    chat.applyEvent({
      type: 'turn_failed', message: snapshot({ id: 'a1', status: 'failed' }),
      error: { code: 'provider_error', message: 'Model unavailable' },
    })
    expect(chat.state.error?.message).toBe('Model unavailable')
    expect(chat.state.turn).toBeNull()
  })

  it('ignores a turn of another conversation', () => {
    const chat = useChatStore()
    chat.state.conversationId = 'c2'
    started(chat)
    chat.state.conversationId = 'c2'
    chat.applyEvent({
      type: 'turn_started', turn_id: 't9', conversation_id: 'other', user_message: null,
      assistant_message: snapshot({ id: 'x', conversation_id: 'other' }),
    })
    expect(chat.state.messages.find((m) => m.id === 'x')).toBeUndefined()
  })

  it('conversation_updated renames the conversation in the sidebar', () => {
    const chat = useChatStore()
    const conversations = useConversationsStore()
    conversations.items = [{
      id: 'c1', assistant_id: 'a', title: 'New conversation', archived: false, parent_id: null, read_only: false, message_count: 0,
      last_activity_at: '', created_at: '', updated_at: '',
    }]
    chat.applyEvent({ type: 'conversation_updated', conversation_id: 'c1', title: 'Trip to Rome' })
    expect(conversations.items[0]?.title).toBe('Trip to Rome')
  })
})
