import { beforeEach, describe, expect, it } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { mount } from '@vue/test-utils'
import ChatComposer from '@/components/chat/ChatComposer.vue'
import MessageBubble from '@/components/chat/MessageBubble.vue'
import TextField from '@/components/ui/TextField.vue'
import { snapshot } from './helpers'

// Chat components read the attachment and toast stores.
beforeEach(() => setActivePinia(createPinia()))

describe('ChatComposer', () => {
  const mountComposer = (props: { enabled: boolean; streaming: boolean; notice?: string }, text = 'hi') =>
    mount(ChatComposer, { props: { ...props, modelValue: text } })

  it('Enter sends, Shift+Enter does not', async () => {
    const w = mountComposer({ enabled: true, streaming: false })
    await w.find('textarea').trigger('keydown', { key: 'Enter', shiftKey: true })
    expect(w.emitted('send')).toBeUndefined()
    await w.find('textarea').trigger('keydown', { key: 'Enter' })
    expect(w.emitted('send')).toEqual([['hi']])
  })

  it('Esc stops a streaming reply', async () => {
    const w = mountComposer({ enabled: true, streaming: true })
    await w.find('textarea').trigger('keydown', { key: 'Escape' })
    expect(w.emitted('stop')).toHaveLength(1)
    expect(w.find('button[aria-label="Stop (Esc)"]').exists()).toBe(true)
  })

  it('shows the notice and never sends while disabled', async () => {
    const w = mountComposer({ enabled: false, streaming: false, notice: 'Not available yet' })
    await w.find('textarea').trigger('keydown', { key: 'Enter' })
    expect(w.emitted('send')).toBeUndefined()
    expect(w.text()).toContain('Not available yet')
    expect(w.find('button[type="submit"]').attributes('disabled')).toBeDefined()
  })
})

describe('MessageBubble', () => {
  it('renders a payload as inert text', () => {
    const w = mount(MessageBubble, { props: { message: snapshot({ text: '<img src=x onerror=alert(1)>' }) } })
    expect(w.find('img').exists()).toBe(false)
    expect(w.text()).toContain('<img src=x onerror=alert(1)>')
  })

  it('shows the failure reason', () => {
    const w = mount(MessageBubble, { props: { message: snapshot({ status: 'failed', error: { message: 'Model crashed' } }) } })
    expect(w.text()).toContain('Model crashed')
  })
})

describe('TextField', () => {
  it('links the error message to the input for assistive tech', () => {
    const w = mount(TextField, { props: { label: 'Email', modelValue: '', error: 'Required' } })
    const input = w.find('input')
    expect(input.attributes('aria-invalid')).toBe('true')
    const describedBy = input.attributes('aria-describedby')
    expect(w.find(`#${describedBy}`).text()).toBe('Required')
  })
})
