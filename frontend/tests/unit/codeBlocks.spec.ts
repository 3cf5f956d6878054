// @vitest-environment jsdom
// (happy-dom drops the first element of what DOMPurify sanitises: its NodeIterator loses the removed <body> root.)
import { beforeEach, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { mount } from '@vue/test-utils'
import MessageBubble from '@/components/chat/MessageBubble.vue'
import { codeFor, onCodeCopyClick } from '@/lib/codeCopy'
import { knownLanguage } from '@/lib/highlight'
import { hasCodeFence, highlighterReady, loadHighlighter } from '@/lib/highlighter'
import { renderMarkdown } from '@/lib/markdown'
import { snapshot } from './helpers'

// Chat components read the attachment and toast stores.
beforeEach(() => setActivePinia(createPinia()))

const HOSTILE = '```html\n<script>alert(1)</script>\n<img src=x onerror="alert(2)">\n```'
const RAW = '<script>alert(1)</script>\n<img src=x onerror="alert(2)">'

function rendered(source: string): HTMLElement {
  const root = document.createElement('div')
  root.innerHTML = renderMarkdown(source)
  return root
}

function mockClipboard(): ReturnType<typeof vi.fn> {
  const writeText = vi.fn().mockResolvedValue(undefined)
  Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true })
  return writeText
}

beforeAll(async () => {
  expect(highlighterReady.value).toBe(false)
  expect(rendered('```js\nlet a = 1\n```').querySelector('.hljs-keyword')).toBeNull() // plain until loaded
  await loadHighlighter()
  expect(highlighterReady.value).toBe(true)
})

afterEach(() => {
  vi.useRealTimers()
})

describe('code blocks', () => {
  it('highlights a fence and keeps markup in it inert', () => {
    const root = rendered(HOSTILE)
    expect(root.querySelector('script')).toBeNull()
    expect(root.querySelector('img')).toBeNull()
    expect(root.querySelector('[onerror]')).toBeNull()
    const code = root.querySelector('.code-block pre code')
    expect(code?.classList.contains('hljs')).toBe(true)
    expect(code?.querySelector('.hljs-tag')).not.toBeNull()
    expect(code?.textContent).toBe(`${RAW}\n`)
    expect(root.querySelector('.code-lang')?.textContent).toBe('html')
  })

  it('highlights each registered language and leaves others plain', () => {
    for (const lang of ['python', 'js', 'ts', 'json', 'bash', 'sh', 'sql', 'html', 'css', 'yaml', 'go', 'rust', 'java', 'c', 'cpp']) {
      expect(knownLanguage(lang), lang).toBe(lang)
    }
    expect(rendered('```python\ndef f(x):\n    return 1\n```').querySelector('.hljs-keyword')?.textContent).toBe('def')
    const plain = rendered('```brainfuck\n+[<script>]\n```')
    expect(plain.querySelector('pre code span')).toBeNull()
    expect(plain.querySelector('pre code')?.textContent).toBe('+[<script>]\n')
    expect(plain.querySelector('script')).toBeNull()
  })

  it('a hostile language name cannot break out of the class attribute', () => {
    const root = rendered('```"><img src=x onerror=alert(1)>\ncode\n```')
    expect(root.querySelector('img')).toBeNull()
    expect(root.querySelector('.code-block pre')).not.toBeNull()
  })

  it('every block gets one keyboard-reachable copy button', () => {
    const root = rendered('```js\nlet a = 1\n```\n\ntext\n\n```\nplain\n```')
    const buttons = root.querySelectorAll('button[data-copy-code]')
    expect(buttons).toHaveLength(2)
    expect(buttons[0]?.getAttribute('type')).toBe('button')
    expect(buttons[0]?.textContent).toBe('Copy code')
    expect(codeFor(buttons[1] as Element)).toBe('plain')
  })

  it('the copy button copies the raw code and says "Copied" for a moment', async () => {
    vi.useFakeTimers()
    const writeText = mockClipboard()
    const root = rendered(HOSTILE)
    document.body.append(root)
    const button = root.querySelector<HTMLButtonElement>('button[data-copy-code]')!
    const event = new MouseEvent('click', { bubbles: true })
    Object.defineProperty(event, 'target', { value: button.querySelector('[data-copy-label]') })
    expect(await onCodeCopyClick(event)).toBe(true)
    expect(writeText).toHaveBeenCalledWith(RAW)
    expect(button.dataset.state).toBe('copied')
    expect(button.textContent).toBe('Copied code')
    vi.advanceTimersByTime(2500)
    expect(button.textContent).toBe('Copy code')
    root.remove()
  })

  it('spots code fences', () => {
    expect(hasCodeFence('text\n```py\nx\n```')).toBe(true)
    expect(hasCodeFence('~~~\nx\n~~~')).toBe(true)
    expect(hasCodeFence('inline `code` only')).toBe(false)
  })

  it('clicks elsewhere in a message are not copies', async () => {
    const event = new MouseEvent('click')
    Object.defineProperty(event, 'target', { value: document.createElement('p') })
    expect(await onCodeCopyClick(event)).toBeNull()
  })

  it('a message bubble copies its code block', async () => {
    const writeText = mockClipboard()
    const text = 'Here:\n\n```python\nprint("<b>hi</b>")\n```'
    const w = mount(MessageBubble, { props: { message: snapshot({ text, status: 'complete' }) }, attachTo: document.body })
    expect(w.find('script').exists()).toBe(false)
    expect(w.find('.hljs-string').exists()).toBe(true)
    await w.get('button[data-copy-code]').trigger('click')
    await vi.waitFor(() => expect(writeText).toHaveBeenCalledWith('print("<b>hi</b>")'))
    await vi.waitFor(() => expect(w.get('button[data-copy-code]').text()).toContain('Copied'))
    w.unmount()
  })
})
