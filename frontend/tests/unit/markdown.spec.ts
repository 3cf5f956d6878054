// @vitest-environment jsdom
// (happy-dom drops the first element of what DOMPurify sanitises: its NodeIterator loses the removed <body> root.)
import { describe, expect, it } from 'vitest'
import { hasRemoteImages, renderMarkdown } from '@/lib/markdown'

describe('renderMarkdown', () => {
  it('renders markdown', () => {
    expect(renderMarkdown('**bold** and `code`')).toContain('<strong>bold</strong>')
  })

  it('wraps tables in a box of their own that scrolls sideways', () => {
    const html = renderMarkdown('| Planet | Moons |\n| --- | --- |\n| Mars | 2 |\n| Earth | 1 |')
    const root = new DOMParser().parseFromString(html, 'text/html').body
    const wrap = root.querySelector('div.table-wrap')
    expect(wrap?.getAttribute('role')).toBe('region')
    expect(wrap?.querySelector('table thead th')?.textContent).toBe('Planet')
    expect(wrap?.querySelectorAll('tbody tr')).toHaveLength(2)
  })

  it('escapes raw HTML instead of rendering it', () => {
    const html = renderMarkdown('<img src=x onerror=alert(1)> <script>alert(1)</script>')
    expect(html).not.toContain('<img')
    expect(html).not.toContain('<script')
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;')
  })

  it('never links javascript: URLs', () => {
    const html = renderMarkdown('[click](javascript:alert(1)) <a href="javascript:alert(1)">x</a>')
    const root = document.createElement('div')
    root.innerHTML = html
    expect(root.querySelector('a')).toBeNull()
  })

  it('blocks remote images unless allowed', () => {
    const source = '![cat](https://example.com/cat.png)'
    expect(hasRemoteImages(source)).toBe(true)
    const blocked = renderMarkdown(source)
    expect(blocked).not.toContain('<img')
    expect(blocked).toContain('remote image blocked: cat')
    expect(renderMarkdown(source, { allowRemoteImages: true })).toContain('<img src="https://example.com/cat.png"')
  })

  it('opens links in a new tab without an opener', () => {
    const html = renderMarkdown('https://example.com')
    expect(html).toContain('rel="noopener noreferrer nofollow"')
    expect(html).toContain('target="_blank"')
  })
})
