import { ref } from 'vue'
import { downloadConversationExport, type ExportFormat } from '@/api/conversations'
import { errorMessage } from '@/api/errors'
import { useToastStore } from '@/stores/toasts'

/** The export formats as the menus offer them. */
export const EXPORT_CHOICES: { format: ExportFormat; label: string; hint: string }[] = [
  { format: 'markdown', label: 'Markdown', hint: 'A readable transcript (.md)' },
  { format: 'json', label: 'JSON', hint: 'Messages and file details (.json)' },
  { format: 'zip', label: 'ZIP with files', hint: 'Both, and the attached files (.zip)' },
]

/** Download a conversation's export; `exporting` is the format being fetched (one at a time). */
export function useConversationExport() {
  const exporting = ref<ExportFormat | null>(null)
  const toasts = useToastStore()

  async function exportAs(conversationId: string, format: ExportFormat): Promise<void> {
    if (exporting.value) return
    exporting.value = format
    try {
      const name = await downloadConversationExport(conversationId, format)
      toasts.success(`Exported “${name}”`)
    } catch (e) {
      toasts.error(`Export failed: ${errorMessage(e)}`)
    } finally {
      exporting.value = null
    }
  }

  return { exporting, exportAs }
}
