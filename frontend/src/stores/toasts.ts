import { ref } from 'vue'
import { defineStore } from 'pinia'

export interface Toast {
  id: number
  kind: 'success' | 'error' | 'info'
  text: string
}

export const useToastStore = defineStore('toasts', () => {
  const toasts = ref<Toast[]>([])
  let next = 1

  function dismiss(id: number): void {
    toasts.value = toasts.value.filter((t) => t.id !== id)
  }

  function push(kind: Toast['kind'], text: string, ms = 4000): void {
    const id = next++
    toasts.value.push({ id, kind, text })
    if (ms > 0) setTimeout(() => dismiss(id), ms)
  }

  return {
    toasts,
    dismiss,
    success: (text: string) => push('success', text),
    error: (text: string) => push('error', text, 7000),
    info: (text: string) => push('info', text),
  }
})
