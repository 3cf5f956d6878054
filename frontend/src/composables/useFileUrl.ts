import { onScopeDispose, ref, watch, type Ref } from 'vue'
import { fileObjectUrl } from '@/api/files'

/** An object URL of a stored file or its thumbnail, fetched with the session's token; revoked when
 * the id changes or the component goes. `status` is 'gone' for a deleted (404) file. */
export function useFileUrl(id: Ref<string | null>, variant: 'content' | 'thumbnail') {
  const url = ref<string | null>(null)
  const status = ref<'idle' | 'loading' | 'ready' | 'gone' | 'error'>('idle')
  let current: string | null = null

  function revoke(): void {
    if (current) URL.revokeObjectURL(current)
    current = null
    url.value = null
  }

  watch(id, async (fileId) => {
    revoke()
    if (!fileId) return void (status.value = 'idle')
    status.value = 'loading'
    try {
      const next = await fileObjectUrl(fileId, variant)
      if (id.value !== fileId) return URL.revokeObjectURL(next)
      current = next
      url.value = next
      status.value = 'ready'
    } catch (e) {
      status.value = (e as { status?: number }).status === 404 ? 'gone' : 'error'
    }
  }, { immediate: true })
  onScopeDispose(revoke)
  return { url, status }
}
