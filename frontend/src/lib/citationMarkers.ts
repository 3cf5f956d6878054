/**
 * The "[n]" markers an answer writes become buttons that open its n-th source (the list under the
 * answer). The HTML is lib/markdown's sanitised output; the buttons are made with the DOM API (their
 * text and title are text, never markup) and work by delegation: the message listens for clicks on
 * `[data-citation]`. Markers in code, links and buttons are left alone, and so is a number past the
 * sources.
 */

const MARKER = /\[(\d{1,3})\]/g
const SKIP = 'code, pre, a, button'

export function linkCitationMarkers(html: string, count: number, titleOf: (n: number) => string): string {
  if (!count || !/\[\d{1,3}\]/.test(html)) return html
  const doc = new DOMParser().parseFromString(`<!doctype html><body>${html}</body>`, 'text/html')
  const walker = doc.createTreeWalker(doc.body, NodeFilter.SHOW_TEXT)
  const texts: Text[] = []
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.parentElement?.closest(SKIP)) texts.push(node as Text)
  }
  let changed = false
  for (const node of texts) {
    const text = node.data
    const out = doc.createDocumentFragment()
    let last = 0
    for (const match of text.matchAll(MARKER)) {
      const n = Number(match[1])
      if (n < 1 || n > count) continue
      out.append(text.slice(last, match.index))
      const button = doc.createElement('button')
      button.type = 'button'
      button.className = 'citation-marker rounded px-0.5 font-medium text-indigo-700 underline decoration-dotted hover:bg-indigo-50 dark:text-indigo-300 dark:hover:bg-indigo-950'
      button.dataset.citation = String(n)
      button.title = titleOf(n)
      button.textContent = `[${n}]`
      out.append(button)
      last = match.index + match[0].length
    }
    if (last === 0) continue
    out.append(text.slice(last))
    node.replaceWith(out)
    changed = true
  }
  return changed ? doc.body.innerHTML : html
}

/** The source number of a clicked marker, if the click was on one. */
export function clickedCitation(event: Event): number | null {
  const marker = (event.target as Element | null)?.closest?.('[data-citation]')
  const n = Number(marker?.getAttribute('data-citation'))
  return Number.isInteger(n) && n > 0 ? n : null
}
