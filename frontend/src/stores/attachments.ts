import { computed, reactive } from 'vue'
import { defineStore } from 'pinia'
import { uploadFile } from '@/api/files'
import { errorMessage } from '@/api/errors'
import type { FilePublic } from '@/api/types'

/** A file on its way into the next message: uploading, uploaded, or refused (with the reason). */
export interface Attachment {
  localId: number
  name: string
  size: number
  isImage: boolean
  previewUrl: string | null // a local object URL of the picked image, until the thumbnail is used
  progress: number // 0..1
  status: 'uploading' | 'done' | 'error'
  error: string | null
  file: FilePublic | null
  abort: (() => void) | null
}

export const MAX_ATTACHMENTS = 10

/** The composer's attachments. Uploads start as soon as files are picked, dropped or pasted. */
export const useAttachmentsStore = defineStore('attachments', () => {
  const items = reactive<Attachment[]>([])
  let seq = 0

  const uploading = computed(() => items.some((a) => a.status === 'uploading'))
  const ready = computed(() => items.filter((a) => a.status === 'done' && a.file).map((a) => a.file as FilePublic))
  const hasImages = computed(() => items.some((a) => a.isImage))

  /** Start uploading; with `noImagesReason` (the model cannot see images) images are refused here. */
  function add(files: Iterable<File>, noImagesReason: string | null = null): void {
    for (const picked of files) {
      const item = reactive<Attachment>({
        localId: ++seq, name: picked.name || 'pasted-image.png', size: picked.size,
        isImage: picked.type.startsWith('image/'), previewUrl: null, progress: 0, status: 'uploading',
        error: null, file: null, abort: null,
      })
      const refusal = items.length >= MAX_ATTACHMENTS ? `At most ${MAX_ATTACHMENTS} files per message`
        : item.isImage && noImagesReason ? noImagesReason : null
      if (refusal) {
        Object.assign(item, { status: 'error', error: refusal })
        items.push(item)
        continue
      }
      if (item.isImage && typeof URL.createObjectURL === 'function') item.previewUrl = URL.createObjectURL(picked)
      items.push(item)
      const handle = uploadFile(picked, item.name, (fraction) => { item.progress = fraction })
      item.abort = handle.abort
      handle.done.then((file) => {
        Object.assign(item, { status: 'done', progress: 1, file, abort: null, isImage: file.kind === 'image' })
      }, (e: unknown) => {
        Object.assign(item, { status: 'error', error: errorMessage(e), abort: null })
      })
    }
  }

  function release(item: Attachment): void {
    item.abort?.()
    if (item.previewUrl) URL.revokeObjectURL(item.previewUrl)
  }

  function remove(localId: number): void {
    const index = items.findIndex((a) => a.localId === localId)
    const item = items[index]
    if (!item) return
    release(item)
    items.splice(index, 1)
  }

  /** After a send: forget the chips (the files stay on the server). */
  function clear(): void {
    for (const item of items.splice(0)) release(item)
  }

  return { items, uploading, ready, hasImages, add, remove, clear }
})
