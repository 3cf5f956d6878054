/**
 * Markdown → safe HTML: markdown-it with raw HTML disabled (fenced code highlighted by highlight.js,
 * which escapes it), then DOMPurify over the whole result. Remote images are replaced by a
 * placeholder until the reader consents (they leak the reader's address). Code blocks get a
 * toolbar with their language and a copy button (see lib/codeCopy), added after sanitising.
 * highlight.js loads with the first fence (lib/highlighter): read `highlighterReady` to re-render then.
 */
import MarkdownIt from 'markdown-it'
import DOMPurify from 'dompurify'
import { hasCodeFence, highlight, isHighlighted, loadHighlighter } from '@/lib/highlighter'

const md = new MarkdownIt({ html: false, linkify: true, breaks: true, highlight })
// Tables scroll sideways in their own box (phones) instead of widening the message.
md.renderer.rules.table_open = () => '<div class="table-wrap" tabindex="0" role="region" aria-label="Table"><table>\n'
md.renderer.rules.table_close = () => '</table></div>\n'

const COPY_ICON = '<svg xmlns="http://www.w3.org/2000/svg" fill="none" viewBox="0 0 24 24" stroke-width="1.5" '
  + 'stroke="currentColor" aria-hidden="true" class="size-3.5"><path stroke-linecap="round" stroke-linejoin="round" '
  + 'd="M15.75 17.25v3.375c0 .621-.504 1.125-1.125 1.125h-9.75a1.125 1.125 0 0 1-1.125-1.125V7.875c0-.621.504-1.125 '
  + '1.125-1.125H6.75a9.06 9.06 0 0 1 1.5.124m7.5 10.376h3.375c.621 0 1.125-.504 1.125-1.125V11.25c0-4.46-3.243-8.161-'
  + '7.5-8.876a9.06 9.06 0 0 0-1.5-.124H9.375c-.621 0-1.125.504-1.125 1.125v3.5m7.5 10.375H9.375a1.125 1.125 0 0 1-'
  + '1.125-1.125v-9.25m12 6.625v-1.875a3.375 3.375 0 0 0-3.375-3.375h-1.5a1.125 1.125 0 0 1-1.125-1.125v-1.5a3.375 '
  + '3.375 0 0 0-3.375-3.375H8.25" /></svg>'

function isRemote(src: string): boolean {
  return /^(https?:)?\/\//i.test(src.trim())
}

export interface RenderOptions {
  allowRemoteImages?: boolean
}

/** Wrap each <pre> in a block with a header: the fence's language and a copy button. */
function decorateCodeBlocks(doc: Document, root: HTMLElement): void {
  for (const pre of root.querySelectorAll('pre')) {
    const code = pre.querySelector('code')
    const info = /(?:^|\s)language-(\S+)/.exec(code?.className ?? '')?.[1] ?? ''
    if (code && isHighlighted(info)) code.classList.add('hljs')
    const block = doc.createElement('div')
    block.className = 'code-block'
    const head = doc.createElement('div')
    head.className = 'code-head'
    const lang = doc.createElement('span')
    lang.className = 'code-lang'
    lang.textContent = info.slice(0, 24) || 'code'
    const button = doc.createElement('button')
    button.type = 'button'
    button.className = 'code-copy'
    button.setAttribute('data-copy-code', '')
    button.innerHTML = `${COPY_ICON}<span data-copy-label aria-live="polite">Copy</span><span class="sr-only"> code</span>`
    head.append(lang, button)
    pre.replaceWith(block)
    block.append(head, pre)
  }
}

export function renderMarkdown(source: string, options: RenderOptions = {}): string {
  if (hasCodeFence(source)) void loadHighlighter()
  const html = DOMPurify.sanitize(md.render(source), {
    USE_PROFILES: { html: true },
    FORBID_TAGS: ['style', 'form', 'input', 'button', 'iframe'],
    FORBID_ATTR: ['style'],
  })
  const doc = new DOMParser().parseFromString(`<div>${html}</div>`, 'text/html')
  const root = doc.body.firstElementChild as HTMLElement
  for (const link of root.querySelectorAll('a')) {
    link.setAttribute('target', '_blank')
    link.setAttribute('rel', 'noopener noreferrer nofollow')
  }
  if (!options.allowRemoteImages) {
    for (const img of root.querySelectorAll('img')) {
      const src = img.getAttribute('src') ?? ''
      if (!isRemote(src)) continue
      const note = doc.createElement('span')
      note.className = 'blocked-image'
      note.textContent = `[remote image blocked: ${img.getAttribute('alt') || src}]`
      img.replaceWith(note)
    }
  }
  decorateCodeBlocks(doc, root)
  return root.innerHTML
}

export function hasRemoteImages(source: string): boolean {
  return /!\[[^\]]*\]\(\s*<?(https?:)?\/\//i.test(source)
}
