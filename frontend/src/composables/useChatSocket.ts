/**
 * Owns the chat WebSocket while the chat page is shown: connects, swaps in refreshed tokens,
 * reconnects (the socket resumes each conversation), and hands it to the chat store. When it is
 * not open the store falls back to SSE. `localStorage['ac.transport'] = 'sse'` forces SSE.
 */
import { onMounted, onUnmounted, ref, type Ref } from 'vue'
import { getAccessToken, onSessionChange, refreshTokens } from '@/api/session'
import { ChatSocket, type SocketLike, type SocketStatus } from '@/lib/chatSocket'
import { useChatStore } from '@/stores/chat'

export function socketUrl(loc: Pick<Location, 'protocol' | 'host'> = window.location): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/api/ws`
}

export function useChatSocket(create?: (url: string) => SocketLike): { status: Ref<SocketStatus> } {
  const chat = useChatStore()
  const status = ref<SocketStatus>('idle')
  let off: (() => void) | null = null
  const socket = new ChatSocket({
    url: socketUrl(),
    create,
    getToken: async () => getAccessToken() ?? (await refreshTokens())?.access_token ?? null,
    onEvent: (conversationId, id, event) => chat.applyEvent(event, id, conversationId),
    onStatus: (next) => {
      status.value = next
    },
    onAuthRejected: async () => (await refreshTokens()) !== null,
    onReconnected: () => void chat.resync(),
  })

  onMounted(() => {
    if (localStorage.getItem('ac.transport') === 'sse') return
    chat.attachSocket(socket)
    socket.start()
    off = onSessionChange((pair) => (pair ? socket.setToken(pair.access_token) : socket.stop()))
  })
  onUnmounted(() => {
    off?.()
    chat.attachSocket(null)
    socket.stop()
  })
  return { status }
}
