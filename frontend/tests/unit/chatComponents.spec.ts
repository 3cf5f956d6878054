import { beforeEach, describe, expect, it } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { mount } from '@vue/test-utils'
import { createMemoryHistory, createRouter } from 'vue-router'
import ChatBanners from '@/components/chat/ChatBanners.vue'
import MessageBubble from '@/components/chat/MessageBubble.vue'
import VersionSwitcher from '@/components/chat/VersionSwitcher.vue'
import { snapshot } from './helpers'

// Chat components read the attachment and toast stores.
beforeEach(() => setActivePinia(createPinia()))

const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/chat/:conversationId?', name: 'chat', component: { template: '<div/>' } }] })

describe('VersionSwitcher', () => {
  it('shows i/n and selects the neighbouring version', async () => {
    const w = mount(VersionSwitcher, { props: { version: { index: 1, count: 3, ids: ['a', 'b', 'c'] } } })
    expect(w.text()).toContain('2/3')
    await w.find('button[aria-label="Previous version"]').trigger('click')
    await w.find('button[aria-label="Next version"]').trigger('click')
    expect(w.emitted('select')).toEqual([['a'], ['c']])
  })

  it('disables the ends', () => {
    const w = mount(VersionSwitcher, { props: { version: { index: 0, count: 2, ids: ['a', 'b'] } } })
    expect(w.find('button[aria-label="Previous version"]').attributes('disabled')).toBeDefined()
  })
})

describe('MessageBubble actions', () => {
  it('a stopped answer says so and offers Retry (regenerate)', async () => {
    const w = mount(MessageBubble, { props: { message: snapshot({ id: 'a1', text: 'Part', status: 'stopped' }) } })
    expect(w.get('[data-testid="message-status"]').text()).toBe('Stopped')
    await w.find('button[aria-label="Retry"]').trigger('click')
    expect(w.emitted('regenerate')).toHaveLength(1)
  })

  it('an answer ended by the output limit is marked as cut off; a finished one is not', () => {
    const cut = mount(MessageBubble, { props: { message: snapshot({ status: 'complete', usage: { finish_reason: 'length' } }) } })
    expect(cut.get('[data-testid="message-cut-off"]').text()).toContain('Cut off at the reply length limit')
    const whole = mount(MessageBubble, { props: { message: snapshot({ status: 'complete', usage: { finish_reason: 'stop' } }) } })
    expect(whole.find('[data-testid="message-cut-off"]').exists()).toBe(false)
    const asked = mount(MessageBubble, { props: { message: snapshot({ role: 'user', status: 'complete', usage: { finish_reason: 'length' } }) } })
    expect(asked.find('[data-testid="message-cut-off"]').exists()).toBe(false)
  })

  it('a failed answer shows its error', () => {
    const w = mount(MessageBubble, { props: { message: snapshot({ status: 'failed', error: { message: 'Provider down' } }) } })
    expect(w.get('[data-testid="message-error"]').text()).toContain('Provider down')
  })

  it('edits a user message and resends it', async () => {
    const w = mount(MessageBubble, { props: { message: snapshot({ id: 'u1', role: 'user', text: 'old', status: 'complete' }) }, attachTo: document.body })
    await w.find('button[aria-label="Edit and resend"]').trigger('click')
    await w.find('textarea').setValue('new question')
    await w.find('form').trigger('submit')
    expect(w.emitted('edit')).toEqual([['new question']])
    w.unmount()
  })

  it('renders HTML in a model answer as inert text', () => {
    const w = mount(MessageBubble, { props: { message: snapshot({ text: '<img src=x onerror=alert(1)> <script>alert(1)</script>', status: 'complete' }) } })
    expect(w.find('img').exists()).toBe(false)
    expect(w.find('script').exists()).toBe(false)
    expect(w.get('[data-testid="message-text"]').text()).toContain('<img src=x onerror=alert(1)>')
  })
})

describe('ChatBanners', () => {
  const conversation = { id: 'c1', assistant_id: 'a', title: 'T', archived: false, parent_id: null, read_only: false, message_count: 2, last_activity_at: '', created_at: '', updated_at: '' }

  it('explains a budget refusal and keeps the draft', () => {
    const w = mount(ChatBanners, { props: { conversation, error: { code: 'budget_exceeded', message: 'Monthly limit of $5.00 reached' } }, global: { plugins: [router] } })
    expect(w.text()).toContain('Budget reached')
    expect(w.text()).toContain('Monthly limit of $5.00 reached')
    expect(w.text()).toContain('draft is kept')
  })

  it('links a capped conversation to its continuation', () => {
    const w = mount(ChatBanners, { props: { conversation: { ...conversation, continued_in_id: 'c2' }, error: null }, global: { plugins: [router] } })
    expect(w.get('[data-testid="continued-banner"] a').attributes('href')).toBe('/chat/c2')
  })
})
