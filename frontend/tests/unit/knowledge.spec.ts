import { beforeEach, describe, expect, it, vi } from 'vitest'
import { reactive } from 'vue'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import KnowledgeBasePicker from '@/components/assistants/KnowledgeBasePicker.vue'
import CitationDialog from '@/components/chat/CitationDialog.vue'
import MessageParts from '@/components/chat/MessageParts.vue'
import AddFromFilesDialog from '@/components/knowledge/AddFromFilesDialog.vue'
import AddToKnowledgeDialog from '@/components/knowledge/AddToKnowledgeDialog.vue'
import { ApiError } from '@/api/errors'
import * as filesModule from '@/api/files'
import { filesApi } from '@/api/files'
import { knowledgeApi } from '@/api/knowledge'
import type { FilePublic, KnowledgeBase, KnowledgeDocument } from '@/api/types'
import { linkCitationMarkers } from '@/lib/citationMarkers'
import { useKnowledgeStore } from '@/stores/knowledge'
import { snapshot } from './helpers'

beforeEach(() => {
  setActivePinia(createPinia())
  document.body.innerHTML = ''
})

const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/knowledge', name: 'knowledge', component: { template: '<div/>' } }] })
const stamp = '2025-01-01T00:00:00Z'
const base = (id: string, name: string): KnowledgeBase => ({
  id, name, description: '', embedding_model: 'local/x', embedding_dimensions: 384, embedding_done: 0, embedding_error: null,
  embedding_status: 'current', embedding_total: 0, server_embedding_model: 'local/x', document_count: 2, chunk_count: 9,
  created_at: stamp, updated_at: stamp,
})
const kbDocument = (id: string, fileId: string | null): KnowledgeDocument => ({
  id, base_id: 'b1', name: `${id}.pdf`, file_id: fileId, status: 'queued', progress_done: 0, progress_total: 0, error: null,
  chunk_count: 0, page_count: 1, created_at: stamp, updated_at: stamp,
})
const file = (id: string, name: string, kind: 'image' | 'document'): FilePublic =>
  ({ id, name, kind, size: 2048, mime: 'application/pdf', format: 'pdf', purpose: 'assistants', created_at: stamp } as unknown as FilePublic)
const PAGE = 'The boiler manual.\nError code E42 means the pressure is below one bar.\nCall the installer.'
const PASSAGE = 'Error code E42 means the pressure is below one bar.'
const citation = {
  document_id: 'd1', file_id: 'f1', name: 'boiler.pdf', page: 2,
  char_start: PAGE.indexOf(PASSAGE), char_end: PAGE.indexOf(PASSAGE) + PASSAGE.length, text: PASSAGE,
}

describe('KnowledgeBasePicker', () => {
  it('lists the user’s bases, ticks and unticks them into the tool, and sets top-k and the threshold', async () => {
    vi.spyOn(knowledgeApi, 'list').mockResolvedValue({ data: [base('b1', 'Manuals'), base('b2', 'Recipes')], count: 2 } as never)
    const tool = reactive({ type: 'file_search' as const, knowledge_base_ids: [] as string[], top_k: 5, threshold: null as number | null })
    const view = mount(KnowledgeBasePicker, { props: { tool, errors: {}, prefix: 'tools.0' }, global: { plugins: [router] } })
    await flushPromises()
    const boxes = view.findAll('fieldset input[type="checkbox"]')
    expect(boxes.map((b) => b.element.parentElement?.textContent)).toEqual([expect.stringContaining('Manuals'), expect.stringContaining('Recipes')])
    expect(view.text()).toContain('Tick at least one')
    await boxes[1]!.setValue(true)
    await boxes[0]!.setValue(true)
    expect(tool.knowledge_base_ids).toEqual(['b2', 'b1'])
    await boxes[1]!.setValue(false)
    expect(tool.knowledge_base_ids).toEqual(['b1'])
    const [topK, threshold] = view.findAll('input[type="number"]')
    await topK!.setValue('80')
    await topK!.trigger('change')
    expect(tool.top_k).toBe(50)
    await threshold!.setValue('0.4')
    await threshold!.trigger('change')
    expect(tool.threshold).toBe(0.4)
    await threshold!.setValue('')
    await threshold!.trigger('change')
    expect(tool.threshold).toBeNull()
  })

  it('keeps a deleted base listed so it can be removed, and shows the server’s error about an id', async () => {
    vi.spyOn(knowledgeApi, 'list').mockResolvedValue({ data: [base('b1', 'Manuals')], count: 1 } as never)
    const tool = reactive({ type: 'file_search' as const, knowledge_base_ids: ['gone', 'b1'], top_k: 5, threshold: null })
    const view = mount(KnowledgeBasePicker, {
      props: { tool, errors: { 'tools.0.knowledge_base_ids.0': 'Knowledge base not found' }, prefix: 'tools.0' },
      global: { plugins: [router] },
    })
    await flushPromises()
    expect(view.get('[data-testid="field-error"]').text()).toBe('Knowledge base not found')
    const stale = view.findAll('fieldset input[type="checkbox"]')[1]!
    expect(stale.element.parentElement?.textContent).toContain('no longer exists')
    await stale.setValue(false)
    expect(tool.knowledge_base_ids).toEqual(['b1'])
  })

  it('points to the Knowledge page when there is no base yet', async () => {
    vi.spyOn(knowledgeApi, 'list').mockResolvedValue({ data: [], count: 0 } as never)
    const tool = reactive({ type: 'file_search' as const, knowledge_base_ids: [], top_k: 5, threshold: null })
    const view = mount(KnowledgeBasePicker, { props: { tool, errors: {}, prefix: 'tools.0' }, global: { plugins: [router] } })
    await flushPromises()
    expect(view.get('a').attributes('href')).toBe('/knowledge')
    expect(view.find('fieldset').exists()).toBe(false)
  })
})

describe('AddFromFilesDialog', () => {
  it('offers the user’s documents (not images), greys those already in the base and emits the picked ids', async () => {
    vi.spyOn(filesApi, 'list').mockResolvedValue({ data: [file('f1', 'boiler.pdf', 'document'), file('f2', 'cat.png', 'image'),
      file('f3', 'notes.md', 'document')], count: 3 } as never)
    const view = mount(AddFromFilesDialog, { props: { open: true, documents: [kbDocument('d1', 'f1')] }, attachTo: document.body })
    await flushPromises()
    const panel = document.body.querySelector('[data-testid="add-from-files"]')!
    const rows = [...panel.querySelectorAll('li')].map((li) => li.textContent)
    expect(rows).toEqual([expect.stringContaining('already added'), expect.stringContaining('notes.md')])
    const boxes = [...panel.querySelectorAll<HTMLInputElement>('input[type="checkbox"]')]
    expect(boxes[0]!.disabled).toBe(true)
    const add = [...panel.querySelectorAll('button')].find((b) => b.textContent?.includes('Add'))!
    expect((add as HTMLButtonElement).disabled).toBe(true)
    boxes[1]!.click()
    await flushPromises()
    ;(add as HTMLButtonElement).click()
    expect(view.emitted('add')).toEqual([[['f3']]])
    view.unmount()
  })
})

describe('knowledge store', () => {
  it('adds uploaded files to the selected base, one request a file, and shows the refusal', async () => {
    const addFile = vi.spyOn(knowledgeApi, 'addFile')
      .mockResolvedValueOnce(kbDocument('d9', 'f3') as never)
      .mockRejectedValueOnce(new ApiError(422, 'no_text', '“cat.png” has no text to search'))
    const store = useKnowledgeStore()
    store.selectedId = 'b1'
    await store.addFiles(['f3', 'f2'])
    expect(addFile.mock.calls).toEqual([['b1', 'f3'], ['b1', 'f2']])
    expect(store.documents.map((d) => d.id)).toEqual(['d9'])
    expect(store.error).toBe('“cat.png” has no text to search')
  })
})

describe('CitationDialog', () => {
  it('opens the cited page with the passage highlighted, and the file', async () => {
    const page = vi.spyOn(knowledgeApi, 'page').mockResolvedValue({
      document_id: 'd1', base_id: 'b1', name: 'boiler.pdf', file_id: 'f1', number: 2, page_count: 3, text: PAGE } as never)
    const objectUrl = vi.spyOn(filesModule, 'fileObjectUrl').mockResolvedValue('blob:boiler')
    const open = vi.spyOn(window, 'open').mockReturnValue(null)
    const view = mount(CitationDialog, { props: { citation, number: 1 }, attachTo: document.body })
    await flushPromises()
    expect(page).toHaveBeenCalledWith('d1', 2)
    const panel = document.body.querySelector('[data-testid="citation-dialog"]')!
    expect(panel.textContent).toContain('[1] boiler.pdf')
    expect(panel.textContent).toContain('Page 2 of 3')
    expect(panel.querySelector('[data-testid="citation-text"]')!.textContent).toBe(PAGE)
    expect(panel.querySelector('mark')!.textContent).toBe(PASSAGE)
    ;(panel.querySelector('[data-testid="citation-open-file"]') as HTMLButtonElement).click()
    await flushPromises()
    expect(objectUrl).toHaveBeenCalledWith('f1', 'content')
    expect(open).toHaveBeenCalledWith('blob:boiler', '_blank', 'noopener')
    view.unmount()
  })

  it('shows the passage as cited when the document is gone', async () => {
    vi.spyOn(knowledgeApi, 'page').mockRejectedValue(new ApiError(404, 'not_found', 'Document not found'))
    const view = mount(CitationDialog, { props: { citation: { ...citation, file_id: null } }, attachTo: document.body })
    await flushPromises()
    const panel = document.body.querySelector('[data-testid="citation-dialog"]')!
    expect(panel.textContent).toContain('no longer in your knowledge bases')
    expect(panel.querySelector('mark')!.textContent).toBe(PASSAGE)
    expect(panel.querySelector('[data-testid="citation-open-file"]')).toBeNull()
    view.unmount()
  })
})

describe('MessageParts citations', () => {
  it('a document citation is a button that opens its passage; a web citation stays a link', async () => {
    const page = vi.spyOn(knowledgeApi, 'page').mockResolvedValue({
      document_id: 'd1', base_id: 'b1', name: 'boiler.pdf', file_id: 'f1', number: 2, page_count: 3, text: PAGE } as never)
    const message = snapshot({ status: 'complete', text: 'Top it up [1].', content: [
      { type: 'text', text: 'Top it up [1].' },
      { type: 'citation', ...citation },
      { type: 'citation', url: 'https://example.com/boilers', title: 'Boilers', snippet: '' },
    ] as never })
    const view = mount(MessageParts, { props: { message }, attachTo: document.body })
    const link = view.get('[data-testid="citation-link"]')
    expect(link.text()).toBe('boiler.pdf, page 2')
    expect(view.get('[data-testid="message-sources"] a').attributes('href')).toBe('https://example.com/boilers')
    await link.trigger('click')
    await flushPromises()
    expect(page).toHaveBeenCalledWith('d1', 2)
    expect(document.body.querySelector('[data-testid="citation-dialog"] mark')?.textContent).toBe(PASSAGE)
    view.unmount()
  })
})

describe('AddToKnowledgeDialog (Files page)', () => {
  it('adds the file to the chosen base, and keeps the dialog open with the server’s refusal', async () => {
    vi.spyOn(knowledgeApi, 'list').mockResolvedValue({ data: [base('b1', 'Manuals'), base('b2', 'Recipes')], count: 2 } as never)
    const addFile = vi.spyOn(knowledgeApi, 'addFile')
      .mockRejectedValueOnce(new ApiError(409, 'already_added', '“boiler.pdf” is already in this knowledge base.'))
      .mockResolvedValueOnce(kbDocument('d9', 'f1') as never)
    const view = mount(AddToKnowledgeDialog, { props: { file: file('f1', 'boiler.pdf', 'document') }, attachTo: document.body, global: { plugins: [router] } })
    await flushPromises()
    const panel = document.body.querySelector('[data-testid="add-to-knowledge"]')!
    const select = panel.querySelector('select')!
    select.value = 'b2'
    select.dispatchEvent(new Event('change'))
    const add = [...panel.querySelectorAll('button')].find((b) => b.textContent?.trim() === 'Add')!
    add.click()
    await flushPromises()
    expect(panel.querySelector('[role="alert"]')?.textContent).toContain('already in this knowledge base')
    expect(view.emitted('close')).toBeUndefined()
    add.click()
    await flushPromises()
    expect(addFile.mock.calls).toEqual([['b2', 'f1'], ['b2', 'f1']])
    expect(view.emitted('close')).toHaveLength(1)
    view.unmount()
  })
})

describe('citation markers', () => {
  it('turns [n] into buttons for known sources only, never inside code or links, and keeps text as text', () => {
    const html = '<p>Top it up [1], see [2] and [3].</p><pre><code>a[1]</code></pre><p><a href="https://x">[1]</a> <img src=x onerror=alert(1)></p>'
    const out = linkCitationMarkers(html, 2, (n) => `source <b>${n}</b>`)
    const doc = new DOMParser().parseFromString(out, 'text/html')
    const markers = [...doc.querySelectorAll('[data-citation]')]
    expect(markers.map((m) => [m.tagName, m.textContent, m.getAttribute('data-citation')])).toEqual([['BUTTON', '[1]', '1'], ['BUTTON', '[2]', '2']])
    expect(markers[0]!.getAttribute('title')).toBe('source <b>1</b>')
    expect(doc.querySelector('b')).toBeNull()
    expect(doc.querySelector('p')!.textContent).toBe('Top it up [1], see [2] and [3].')
    expect(doc.querySelector('code')!.innerHTML).toBe('a[1]')
    expect(linkCitationMarkers('<p>no markers</p>', 2, String)).toBe('<p>no markers</p>')
    expect(linkCitationMarkers('<p>[1]</p>', 0, String)).toBe('<p>[1]</p>')
  })

  it('a click on [1] in the answer opens the cited passage', async () => {
    vi.spyOn(knowledgeApi, 'page').mockResolvedValue({
      document_id: 'd1', base_id: 'b1', name: 'boiler.pdf', file_id: 'f1', number: 2, page_count: 3, text: PAGE } as never)
    const message = snapshot({ status: 'complete', text: 'Top it up [1].', content: [
      { type: 'text', text: 'Top it up [1].' }, { type: 'citation', ...citation }] as never })
    const view = mount(MessageParts, { props: { message }, attachTo: document.body })
    const marker = view.get('[data-testid="message-text"] [data-citation="1"]')
    expect(marker.attributes('title')).toContain('boiler.pdf, page 2 — Error code E42')
    await marker.trigger('click')
    await flushPromises()
    expect(document.body.querySelector('[data-testid="citation-dialog"] mark')?.textContent).toBe(PASSAGE)
    view.unmount()
  })
})

describe('citation markers of untrusted sources', () => {
  it('[n] of a javascript: or data: citation opens nothing; of an https one, the page', async () => {
    const open = vi.spyOn(window, 'open').mockReturnValue(null)
    const message = snapshot({ status: 'complete', text: 'See [1] and [2].', content: [
      { type: 'text', text: 'See [1] and [2].' },
      { type: 'citation', url: 'javascript:alert(1)', title: 'evil', snippet: '' },
      { type: 'citation', url: 'https://example.com/a', title: 'A', snippet: '' }] as never })
    const view = mount(MessageParts, { props: { message }, attachTo: document.body })
    await view.get('[data-citation="1"]').trigger('click')
    expect(open).not.toHaveBeenCalled()
    await view.get('[data-citation="2"]').trigger('click')
    expect(open).toHaveBeenCalledWith('https://example.com/a', '_blank', 'noopener,noreferrer')
    view.unmount()
  })
})
