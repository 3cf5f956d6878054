/**
 * The copy buttons of rendered code blocks (lib/markdown adds them to the sanitised HTML, so they
 * work by delegation: the message listens for clicks). The button shows "Copied" for a moment.
 */

const RESET_MS = 2000

/** The raw code of the block a copy button belongs to (the text highlight.js marked up). */
export function codeFor(button: Element): string | null {
  const code = button.closest('.code-block')?.querySelector('pre code, pre')
  if (!code) return null
  return (code.textContent ?? '').replace(/\n$/, '')
}

/** Clipboard API, or the old selection trick where it is missing (plain http on another host). */
export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard?.writeText) {
      await navigator.clipboard.writeText(text)
      return true
    }
  } catch {
    // permission refused: try the fallback
  }
  const area = document.createElement('textarea')
  area.value = text
  area.setAttribute('readonly', '')
  area.className = 'fixed -left-[9999px] opacity-0'
  document.body.append(area)
  area.select()
  let ok = false
  try {
    ok = document.execCommand('copy')
  } catch {
    ok = false
  }
  area.remove()
  return ok
}

function show(button: HTMLElement, state: 'copied' | 'failed' | null): void {
  const label = button.querySelector('[data-copy-label]')
  if (label) label.textContent = state === 'copied' ? 'Copied' : state === 'failed' ? 'Copy failed' : 'Copy'
  if (state) button.dataset.state = state
  else delete button.dataset.state
}

/** Click handler for a message body: copies when the click came from a code block's copy button. */
export async function onCodeCopyClick(event: Event): Promise<boolean | null> {
  const target = event.target instanceof Element ? event.target : null
  const button = target?.closest<HTMLElement>('button[data-copy-code]')
  if (!button) return null
  const code = codeFor(button)
  const ok = code !== null && (await copyText(code))
  show(button, ok ? 'copied' : 'failed')
  setTimeout(() => show(button, null), RESET_MS)
  return ok
}
