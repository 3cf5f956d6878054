import { beforeEach, describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import ToolCallCard from '@/components/chat/ToolCallCard.vue'
import MessageParts from '@/components/chat/MessageParts.vue'
import { useChatStore } from '@/stores/chat'
import type { ToolCallPart } from '@/types/stream'
import { snapshot } from './helpers'

function started(chat: ReturnType<typeof useChatStore>) {
  chat.state.conversationId = 'c1'
  chat.applyEvent({
    type: 'turn_started', turn_id: 't1', conversation_id: 'c1',
    user_message: snapshot({ id: 'u1', role: 'user', text: 'hi', status: 'complete' }),
    assistant_message: snapshot({ id: 'a1' }),
  })
}

describe('run steps in the chat store', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it('streams a tool call, its result, then the answer text in order', () => {
    const chat = useChatStore()
    started(chat)
    chat.applyEvent({ type: 'text_delta', message_id: 'a1', text: 'Let me add.' })
    chat.applyEvent({ type: 'tool_call_started', message_id: 'a1', call_id: 'c1', name: 'add', round: 0 })
    chat.applyEvent({ type: 'tool_call_delta', message_id: 'a1', call_id: 'c1', arguments_delta: '{"a": 1,' })
    chat.applyEvent({ type: 'tool_call_delta', message_id: 'a1', call_id: 'c1', arguments_delta: ' "b": 2}' })
    const running: ToolCallPart = { type: 'tool_call', call_id: 'c1', name: 'add', arguments: '{"a": 1, "b": 2}', status: 'running' }
    chat.applyEvent({ type: 'tool_call_updated', message_id: 'a1', part: running, activity: 'Adding…' })
    expect(chat.state.turn?.activity).toBe('Adding…')
    chat.applyEvent({ type: 'tool_call_updated', message_id: 'a1', part: { ...running, status: 'complete', output: '3', duration_ms: 4 } })
    expect(chat.state.turn?.activity).toBeNull()
    chat.applyEvent({ type: 'step_finished', message_id: 'a1', run_id: 'r1', index: 1, kind: 'tool_calls', cost_micros: 10 })
    chat.applyEvent({ type: 'text_delta', message_id: 'a1', text: 'It is 3.' })
    const answer = chat.state.messages.find((m) => m.id === 'a1')!
    expect(answer.content.map((p) => p.type)).toEqual(['text', 'tool_call', 'text'])
    expect(answer.content[1]).toMatchObject({ status: 'complete', output: '3' })
    expect(answer.content[2]).toEqual({ type: 'text', text: 'It is 3.' })
    expect(answer.text).toBe('Let me add.It is 3.')
    expect(answer.cost_micros).toBe(10)
  })

  it('keeps the streamed arguments of a call before it runs', () => {
    const chat = useChatStore()
    started(chat)
    chat.applyEvent({ type: 'tool_call_started', message_id: 'a1', call_id: 'c1', name: 'search', round: 0 })
    chat.applyEvent({ type: 'tool_call_delta', message_id: 'a1', call_id: 'c1', arguments_delta: '{"q": "vue' })
    const part = chat.state.messages.find((m) => m.id === 'a1')!.content[0] as ToolCallPart
    expect(part).toMatchObject({ name: 'search', arguments: '{"q": "vue', status: 'running' })
  })

  it('adds a notice to the answer', () => {
    const chat = useChatStore()
    started(chat)
    chat.applyEvent({ type: 'notice', message_id: 'a1', code: 'tools_unavailable', message: 'No tools on this model.' })
    expect(chat.state.messages.find((m) => m.id === 'a1')!.content).toEqual([
      { type: 'notice', code: 'tools_unavailable', message: 'No tools on this model.' }])
  })
})

describe('a run paused for a client-side function', () => {
  beforeEach(() => setActivePinia(createPinia()))

  const pending: ToolCallPart = { type: 'tool_call', call_id: 'k1', name: 'get_weather', arguments: '{}', status: 'requires_action' }
  const paused = snapshot({ id: 'a1', status: 'complete', text: 'Checking.', content: [{ type: 'text', text: 'Checking.' }, pending], updated_at: '2025-01-01T00:00:05Z' })

  function loaded() {
    const chat = useChatStore()
    chat.state.conversationId = 'c1'
    chat.state.messages = [
      { ...snapshot({ id: 'u1', role: 'user', text: 'Weather?', status: 'complete' }), version: { index: 0, count: 1, ids: ['u1'] } },
      { ...paused, parent_id: 'u1', version: { index: 0, count: 1, ids: ['a1'] } },
    ]
    return chat
  }

  it('follows the turn that continues it (the caller sent the output), not taken for a replay', () => {
    const chat = loaded()
    const answered = { ...pending, status: 'complete' as const, output: 'sunny' }
    chat.applyEvent({
      type: 'turn_started', turn_id: 't2', conversation_id: 'c1', user_message: null, run_id: 'r1',
      assistant_message: { ...paused, status: 'streaming', content: [{ type: 'text', text: 'Checking.' }, answered], updated_at: '2025-01-01T00:01:00Z' },
    }, 't2:1')
    chat.applyEvent({ type: 'text_delta', message_id: 'a1', text: 'Sunny.' }, 't2:2')
    const answer = chat.state.messages.find((m) => m.id === 'a1')!
    expect(answer.status).toBe('streaming')
    expect(answer.content[1]).toMatchObject({ status: 'complete', output: 'sunny' })
    expect(answer.text).toBe('Checking.Sunny.')
    expect(chat.state.turn?.messageId).toBe('a1')
    expect(chat.state.ignoredTurns).toEqual([])
  })

  it('still ignores the replay of the turn that paused it', () => {
    const chat = loaded()
    chat.applyEvent({
      type: 'turn_started', turn_id: 't1', conversation_id: 'c1', user_message: snapshot({ id: 'u1', role: 'user', status: 'complete' }),
      assistant_message: snapshot({ id: 'a1', parent_id: 'u1' }),
    }, 't1:1')
    expect(chat.state.ignoredTurns).toEqual(['t1'])
    expect(chat.state.messages.find((m) => m.id === 'a1')!.status).toBe('complete')
  })

  it('its card says it waits for the caller', async () => {
    const card = mount(ToolCallCard, { props: { part: pending } })
    expect(card.get('[data-testid="tool-call-status"]').text()).toBe("Waiting for the caller's output")
    await card.get('button').trigger('click')
    expect(card.get('[data-testid="tool-call-waiting"]').text()).toContain('sends the result')
  })
})

describe('ToolCallCard', () => {
  it('shows the name and status, and the arguments and error when opened', async () => {
    const part: ToolCallPart = {
      type: 'tool_call', call_id: 'c1', name: 'get_weather', arguments: '{"city":"Oslo"}', status: 'failed',
      output: 'the upstream service said no', is_error: true, duration_ms: 1200, cost_micros: 2500,
    }
    const card = mount(ToolCallCard, { props: { part } })
    expect(card.text()).toContain('get_weather')
    expect(card.get('[data-testid="tool-call-status"]').text()).toBe('Failed')
    await card.get('button').trigger('click')
    expect(card.text()).toContain('"city": "Oslo"')
    expect(card.get('[data-testid="tool-call-output"]').text()).toBe('the upstream service said no')
    expect(card.text()).toContain('Error')
  })
})

describe('MessageParts', () => {
  it('renders text, tool cards and the cited sources in order', () => {
    const message = snapshot({
      id: 'a1', status: 'complete', text: 'Found it.',
      content: [
        { type: 'tool_call', call_id: 'c1', name: 'web_search', arguments: '{}', status: 'complete', output: 'ok',
          result_parts: [{ type: 'citation', title: 'Vue', url: 'https://vuejs.org/' }] },
        { type: 'text', text: 'Found **it**.' },
      ],
    })
    const view = mount(MessageParts, { props: { message } })
    const html = view.html()
    expect(html.indexOf('tool-call')).toBeLessThan(html.indexOf('<strong>it</strong>'))
    expect(view.get('[data-testid="message-sources"] a').attributes('href')).toBe('https://vuejs.org/')
  })
})

describe('ToolCallCard with code', () => {
  it('shows the code interpreter\'s code as a highlighted block, escaped', async () => {
    const part: ToolCallPart = {
      type: 'tool_call', call_id: 'c2', name: 'code_interpreter', status: 'complete', output: '42',
      arguments: JSON.stringify({ code: 'print(6 * 7)  # <script>alert(1)</script>' }),
    }
    const card = mount(ToolCallCard, { props: { part } })
    await card.get('button').trigger('click')
    const code = card.get('[data-testid="tool-call-code"]')
    expect(code.text()).toContain('print(6 * 7)')
    expect(code.html()).not.toContain('<script>')
  })
})

describe('ToolCallCard session state', () => {
  it('shows a badge when the code interpreter session was restarted, without opening the card', async () => {
    const part: ToolCallPart = {
      type: 'tool_call', call_id: 'c3', name: 'code_interpreter', status: 'complete', arguments: '{"code": "x"}',
      output: '[New Python session: the previous one ended because it was idle for 20 minutes. …]',
      session_restarted: 'it was idle for 20 minutes',
    }
    const card = mount(ToolCallCard, { props: { part: { ...part, cpu_seconds: 0.123 } } })
    const badge = card.get('[data-testid="tool-call-session-restarted"]')
    expect(badge.text()).toContain('Session restarted — variables from earlier calls are gone')
    expect(badge.text()).toContain('it was idle for 20 minutes')
    expect(card.find('[data-testid="tool-call-session-ended"]').exists()).toBe(false)
    await card.get('button').trigger('click')
    expect(card.get('[data-testid="tool-call-cpu"]').text()).toBe('CPU time: 0.12 s')
  })

  it('shows that a call ended its session, and nothing for a call in a running session', () => {
    const ended: ToolCallPart = {
      type: 'tool_call', call_id: 'c4', name: 'code_interpreter', status: 'failed', is_error: true, arguments: '{}',
      output: 'timed out', session_ended: 'the call ran longer than 30 seconds and was stopped',
    }
    const card = mount(ToolCallCard, { props: { part: ended } })
    expect(card.get('[data-testid="tool-call-session-ended"]').text()).toContain('ran longer than 30 seconds')
    expect(card.find('[data-testid="tool-call-session-restarted"]').exists()).toBe(false)
    const plain = mount(ToolCallCard, { props: { part: { ...ended, session_ended: null, status: 'complete', is_error: false } } })
    expect(plain.find('[data-testid="tool-call-session-ended"]').exists()).toBe(false)
    expect(plain.find('[data-testid="tool-call-session-restarted"]').exists()).toBe(false)
  })
})
