/**
 * Run `refresh` when the reader comes back to this tab (it was hidden): usage written meanwhile (a
 * title or a continuation summary that landed after the page loaded, a chat in another tab) shows
 * up without a reload. At most once every `minGapMs`.
 */
import { onMounted, onUnmounted } from 'vue'

export function useRefreshOnReturn(refresh: () => unknown, minGapMs = 5_000): void {
  let last = Date.now()
  function onVisible(): void {
    if (document.visibilityState !== 'visible' || Date.now() - last < minGapMs) return
    last = Date.now()
    void refresh()
  }
  onMounted(() => document.addEventListener('visibilitychange', onVisible))
  onUnmounted(() => document.removeEventListener('visibilitychange', onVisible))
}
