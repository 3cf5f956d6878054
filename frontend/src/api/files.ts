/** Uploaded files: list, get, delete (typed client), upload with progress (XMLHttpRequest), and the
 * authenticated download of a file's bytes as an object URL (an <img> cannot send the bearer token). */
import { client, unwrap } from '@/api/client'
import { toApiError } from '@/api/errors'
import { authFetch, getAccessToken, refreshTokens } from '@/api/session'
import type { FilePublic } from '@/api/types'

const byId = (file_id: string) => ({ params: { path: { file_id } } })

export const filesApi = {
  list: (limit = 100, offset = 0) => unwrap(client.GET('/api/files', { params: { query: { limit, offset } } })),
  get: (id: string) => unwrap(client.GET('/api/files/{file_id}', byId(id))),
  remove: (id: string) => unwrap(client.DELETE('/api/files/{file_id}', byId(id))),
}

export interface UploadHandle {
  done: Promise<FilePublic>
  abort: () => void
}

function send(file: Blob, name: string, onProgress: (fraction: number) => void): { xhr: XMLHttpRequest; done: Promise<XMLHttpRequest> } {
  const xhr = new XMLHttpRequest()
  const done = new Promise<XMLHttpRequest>((resolve, reject) => {
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total) }
    xhr.onload = () => resolve(xhr)
    xhr.onerror = () => reject(toApiError(0, null))
    xhr.onabort = () => reject(toApiError(0, { error: { code: 'aborted', message: 'Upload cancelled' } }))
  })
  xhr.open('POST', '/api/files')
  xhr.responseType = 'json'
  const token = getAccessToken()
  if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`)
  const form = new FormData()
  form.append('file', file, name)
  xhr.send(form)
  return { xhr, done }
}

/** Upload one file; `onProgress` gets 0..1. A 401 refreshes the session once and retries. */
export function uploadFile(file: Blob, name: string, onProgress: (fraction: number) => void): UploadHandle {
  let current = send(file, name, onProgress)
  const done = (async () => {
    let xhr = await current.done
    if (xhr.status === 401 && (await refreshTokens())) {
      current = send(file, name, onProgress)
      xhr = await current.done
    }
    if (xhr.status !== 201) throw toApiError(xhr.status, xhr.response)
    return xhr.response as FilePublic
  })()
  return { done, abort: () => current.xhr.abort() }
}

/** The bytes of a file (or its thumbnail) as an object URL; revoke it when done. */
export async function fileObjectUrl(id: string, variant: 'content' | 'thumbnail'): Promise<string> {
  const res = await authFetch(new Request(`/api/files/${encodeURIComponent(id)}/${variant}`))
  if (!res.ok) throw toApiError(res.status, await res.json().catch(() => null))
  return URL.createObjectURL(await res.blob())
}
