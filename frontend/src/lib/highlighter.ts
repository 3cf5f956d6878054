/**
 * Loads highlight.js (lib/highlight, its own chunk) the first time a message holds a code fence,
 * so the chat page opens without it. Until it is there, code renders plain; `highlighterReady`
 * turns true once it is, for rendered messages to recompute.
 */
import { ref } from 'vue'

type Highlight = typeof import('@/lib/highlight')

let loaded: Highlight | null = null
let loading: Promise<void> | null = null
export const highlighterReady = ref(false)

export function loadHighlighter(): Promise<void> {
  loading ??= import('@/lib/highlight').then((mod) => {
    loaded = mod
    highlighterReady.value = true
  }).catch(() => {
    loading = null // try again with the next message
  })
  return loading
}

/** Escaped highlighted HTML, or '' (markdown-it escapes the code itself) when not loaded or unknown. */
export function highlight(code: string, info: string): string {
  return loaded ? loaded.highlightCode(code, info) : ''
}

export function isHighlighted(info: string): boolean {
  return loaded ? loaded.knownLanguage(info) !== null : false
}

export function hasCodeFence(source: string): boolean {
  return /^ {0,3}(```|~~~)/m.test(source)
}
