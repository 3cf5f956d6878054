/**
 * Capabilities the server does not offer yet. Flip a flag when its endpoint lands:
 * - streaming: POST /api/conversations/{id}/messages (Accept: text/event-stream)
 */
export const features = {
  streaming: false,
}
