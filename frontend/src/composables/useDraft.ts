import { ref, watch, type Ref } from 'vue'

const PREFIX = 'ac.draft.'

export function readDraft(key: string): string {
  try {
    return localStorage.getItem(PREFIX + key) ?? ''
  } catch {
    return ''
  }
}

export function writeDraft(key: string, text: string): void {
  try {
    if (text) localStorage.setItem(PREFIX + key, text)
    else localStorage.removeItem(PREFIX + key)
  } catch {
    // Storage full or blocked: the draft only lives in memory then.
  }
}

/**
 * The unsent text of one conversation, kept in localStorage so it survives a reload or a
 * trip through the sign-in page when the session expires.
 */
export function useDraft(key: Ref<string | null>): { text: Ref<string>; clear: () => void } {
  const text = ref(key.value ? readDraft(key.value) : '')
  watch(key, (next) => {
    text.value = next ? readDraft(next) : ''
  })
  watch(text, (value) => {
    if (key.value) writeDraft(key.value, value)
  })
  return {
    text,
    clear: () => {
      text.value = ''
      if (key.value) writeDraft(key.value, '')
    },
  }
}
