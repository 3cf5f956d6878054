/**
 * Switches for capabilities that depend on the server. `streaming`: POST
 * /api/conversations/{id}/messages with Accept: text/event-stream (chat_send) is available;
 * turn it off to show the composer's "not available" notice instead.
 */
export const features = {
  streaming: true,
}
