/**
 * Markdown → safe HTML: markdown-it with raw HTML disabled, then DOMPurify. Remote images are
 * replaced by a placeholder until the reader consents (they leak the reader's address).
 */
import MarkdownIt from 'markdown-it'
import DOMPurify from 'dompurify'

const md = new MarkdownIt({ html: false, linkify: true, breaks: true })

function isRemote(src: string): boolean {
  return /^(https?:)?\/\//i.test(src.trim())
}

export interface RenderOptions {
  allowRemoteImages?: boolean
}

export function renderMarkdown(source: string, options: RenderOptions = {}): string {
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
  return root.innerHTML
}

export function hasRemoteImages(source: string): boolean {
  return /!\[[^\]]*\]\(\s*<?(https?:)?\/\//i.test(source)
}
