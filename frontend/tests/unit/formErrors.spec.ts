import { describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import { defineComponent, h } from 'vue'
import NumberField from '@/components/assistants/NumberField.vue'
import TextField from '@/components/ui/TextField.vue'
import { revealInvalidField } from '@/composables/useSubmit'

describe('server errors on form fields', () => {
  it('a text field shows the error with its hint, and drops it once edited', async () => {
    const w = mount(TextField, { props: { label: 'Name', modelValue: 'get weather!', error: 'Use only the characters allowed here (see the hint).', hint: 'Letters, digits, _ and -' } })
    const input = w.get('input')
    expect(input.attributes('aria-invalid')).toBe('true')
    expect(w.get('[data-testid="field-error"]').text()).toContain('allowed')
    expect(input.attributes('aria-describedby')?.split(' ')).toHaveLength(2)
    await w.setProps({ modelValue: 'get_weather' })
    expect(w.find('[data-testid="field-error"]').exists()).toBe(false)
    expect(input.attributes('aria-invalid')).toBeUndefined()
    expect(w.text()).toContain('Letters, digits, _ and -')
    // A new rejection shows again.
    await w.setProps({ error: 'This field is required.' })
    expect(w.get('[data-testid="field-error"]').text()).toBe('This field is required.')
  })

  it('a number field drops its error once edited', async () => {
    const w = mount(NumberField, { props: { label: 'Max messages', modelValue: '1', error: 'Must be at least 2.' } })
    expect(w.get('input').attributes('aria-invalid')).toBe('true')
    await w.setProps({ modelValue: '4' })
    expect(w.find('[data-testid="field-error"]').exists()).toBe(false)
  })

  it('the first invalid field is focused after a rejection', async () => {
    const Form = defineComponent(() => {
      return () => h('form', [
        h('input', { id: 'ok' }),
        h('input', { id: 'bad', 'aria-invalid': 'true' }),
      ])
    })
    const w = mount(Form, { attachTo: document.body })
    await revealInvalidField()
    expect(document.activeElement?.id).toBe('bad')
    w.unmount()
  })
})

describe('tools editor', () => {
  it('offers no sub-assistant while there is no other assistant', async () => {
    const { createPinia, setActivePinia } = await import('pinia')
    const ToolsEditor = (await import('@/components/assistants/ToolsEditor.vue')).default
    const pinia = createPinia()
    setActivePinia(pinia)
    const w = mount(ToolsEditor, { props: { others: [], errors: {}, modelValue: [] }, global: { plugins: [pinia] }, attachTo: document.body })
    await w.get('button').trigger('click')
    await new Promise((r) => setTimeout(r, 0))
    const item = [...document.querySelectorAll('[role="menuitem"]')].find((el) => el.textContent?.includes('Assistant'))
    expect(item?.getAttribute('aria-disabled')).toBe('true')
    expect(item?.textContent).toContain('Create another assistant first')
    w.unmount()
  })
})

describe('message actions', () => {
  it('every message has a copy button that copies its text', async () => {
    const { snapshot } = await import('./helpers')
    const MessageActions = (await import('@/components/chat/MessageActions.vue')).default
    const copied: string[] = []
    Object.defineProperty(navigator, 'clipboard', { value: { writeText: async (t: string) => { copied.push(t) } }, configurable: true })
    for (const role of ['user', 'assistant'] as const) {
      const w = mount(MessageActions, { props: { message: snapshot({ role, text: `**${role}** said`, status: 'complete' }), busy: false } })
      await w.get('[data-testid="copy-message"]').trigger('click')
      await new Promise((r) => setTimeout(r, 0))
      expect(w.get('[data-testid="copy-message"]').attributes('aria-label')).toBe('Copied')
    }
    expect(copied).toEqual(['**user** said', '**assistant** said'])
  })
})
