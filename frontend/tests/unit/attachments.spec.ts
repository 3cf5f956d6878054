import { beforeEach, describe, expect, it } from 'vitest'
import { nextTick } from 'vue'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import ChatComposer from '@/components/chat/ChatComposer.vue'
import MessageAttachments from '@/components/chat/MessageAttachments.vue'
import { fileParts, formatBytes } from '@/lib/fileParts'
import { MAX_ATTACHMENTS, useAttachmentsStore } from '@/stores/attachments'
import type { FilePublic } from '@/api/types'

beforeEach(() => setActivePinia(createPinia()))

const image = (name: string) => new File([new Uint8Array([137, 80, 78, 71])], name, { type: 'image/png' })

describe('attachments', () => {
  it('refuses images for a model without vision, with the reason, and uploads nothing', () => {
    const store = useAttachmentsStore()
    store.add([image('cat.png')], 'The model local/x cannot see images')
    expect(store.items).toHaveLength(1)
    expect(store.items[0]).toMatchObject({ status: 'error', error: 'The model local/x cannot see images' })
    expect(store.ready).toEqual([])
    store.remove(store.items[0]!.localId)
    expect(store.items).toHaveLength(0)
  })

  it('refuses files past the per-message limit', () => {
    const store = useAttachmentsStore()
    store.add(Array.from({ length: MAX_ATTACHMENTS + 1 }, (_, i) => image(`${i}.png`)), 'no vision')
    expect(store.items).toHaveLength(MAX_ATTACHMENTS + 1)
    expect(store.items.at(-1)?.error).toBe(`At most ${MAX_ATTACHMENTS} files per message`)
  })

  it('the composer shows the chips, their errors and the reason; nothing to send without text or files', async () => {
    const store = useAttachmentsStore()
    store.add([image('cat.png')], 'No vision here')
    const w = mount(ChatComposer, {
      props: { enabled: true, streaming: false, modelValue: '', noImagesReason: 'No vision here' },
    })
    expect(w.find('[data-testid="attachment-chip"]').attributes('data-status')).toBe('error')
    expect(w.find('[role="alert"]').text()).toBe('No vision here')
    expect(w.find('#composer-no-images').text()).toBe('No vision here')
    expect(w.find('[data-testid="file-input"]').attributes('accept')).not.toContain('image/png')
    expect(w.find('button[type="submit"]').attributes('disabled')).toBeDefined()
    await w.find('button[aria-label="Remove cat.png"]').trigger('click')
    expect(w.find('[data-testid="attachment-chip"]').exists()).toBe(false)
  })

  it('a message shows its images as buttons and its documents as download chips', () => {
    const content = [
      { type: 'text', text: 'see' },
      { type: 'file', file_id: 'a'.repeat(32), name: 'photo.png', mime: 'image/png', kind: 'image', size: 2048 },
      { type: 'file', file_id: 'b'.repeat(32), name: 'report.pdf', mime: 'application/pdf', kind: 'document', size: 3_500_000 },
    ]
    expect(fileParts(content).map((p) => p.name)).toEqual(['photo.png', 'report.pdf'])
    const w = mount(MessageAttachments, { props: { content } })
    expect(w.find('button[aria-label="Open photo.png"]').exists()).toBe(true)
    expect(w.find('button[title="Download report.pdf"]').text()).toContain('3.3 MB')
    expect(formatBytes(512)).toBe('512 B')
  })
})

describe('sending while files upload', () => {
  function uploadingItem(store: ReturnType<typeof useAttachmentsStore>) {
    store.items.push({
      localId: 99, name: 'sales.csv', size: 61, isImage: false, previewUrl: null, progress: 0.3, status: 'uploading',
      error: null, file: null, abort: null,
    })
    return store.items[store.items.length - 1]!
  }
  const uploaded = { id: 'f'.repeat(32), name: 'sales.csv', kind: 'document' } as unknown as FilePublic

  it('Enter during an upload sends once the upload is done', async () => {
    const store = useAttachmentsStore()
    const item = uploadingItem(store)
    const w = mount(ChatComposer, { props: { enabled: true, streaming: false, modelValue: 'Plot it' } })
    expect(w.find('button[type="submit"]').attributes('disabled')).toBeUndefined()
    await w.find('textarea').trigger('keydown', { key: 'Enter' })
    expect(w.emitted('send')).toBeUndefined()
    expect(w.find('[data-testid="composer-queued"]').text()).toContain('as soon as the upload finishes')
    Object.assign(item, { status: 'done', progress: 1, file: uploaded })
    await nextTick()
    expect(w.emitted('send')).toEqual([['Plot it']])
    expect(w.find('[data-testid="composer-queued"]').exists()).toBe(false)
  })

  it('does not send when the upload is refused, or when the text changed meanwhile', async () => {
    const store = useAttachmentsStore()
    const item = uploadingItem(store)
    const w = mount(ChatComposer, { props: { enabled: true, streaming: false, modelValue: 'Plot it' } })
    await w.find('textarea').trigger('keydown', { key: 'Enter' })
    Object.assign(item, { status: 'error', error: 'The file is too large' })
    await nextTick()
    expect(w.emitted('send')).toBeUndefined()

    Object.assign(item, { status: 'uploading', error: null })
    await w.find('textarea').trigger('keydown', { key: 'Enter' })
    await w.setProps({ modelValue: 'Plot it by month' })
    expect(w.find('[data-testid="composer-queued"]').exists()).toBe(false)
    Object.assign(item, { status: 'done', progress: 1, file: uploaded })
    await nextTick()
    expect(w.emitted('send')).toBeUndefined()
  })

  it('Enter while the conversation loads sends once it can; not when sending is refused for a reason', async () => {
    const w = mount(ChatComposer, { props: { enabled: false, streaming: false, modelValue: 'Hello' } })
    await w.find('textarea').trigger('keydown', { key: 'Enter' })
    expect(w.emitted('send')).toBeUndefined()
    expect(w.find('[data-testid="composer-queued"]').text()).toContain('as soon as the conversation is ready')
    await w.setProps({ enabled: true })
    expect(w.emitted('send')).toEqual([['Hello']])

    const unavailable = mount(ChatComposer, {
      props: { enabled: false, streaming: false, modelValue: 'Hello', notice: 'Replies are not available yet.' },
    })
    await unavailable.find('textarea').trigger('keydown', { key: 'Enter' })
    expect(unavailable.find('[data-testid="composer-queued"]').exists()).toBe(false)
    await unavailable.setProps({ enabled: true })
    expect(unavailable.emitted('send')).toBeUndefined()
  })
})
