/** The file parts a message stores ({type: "file", file_id, name, mime, kind, size}). */
export interface FilePart {
  type: 'file'
  file_id: string
  name: string
  mime: string
  kind: 'image' | 'document'
  size: number
}

export function fileParts(content: Record<string, unknown>[] | undefined): FilePart[] {
  return (content ?? []).filter((p): p is FilePart & Record<string, unknown> =>
    p.type === 'file' && typeof p.file_id === 'string') as FilePart[]
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  const units = ['KB', 'MB', 'GB']
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit += 1
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`
}

/** What the file picker offers (the server sniffs the content and has the last word). */
export const IMAGE_ACCEPT = 'image/png,image/jpeg,image/webp,image/gif'
export const DOCUMENT_ACCEPT = [
  '.pdf', '.docx', '.pptx', '.xlsx', '.csv', '.txt', '.md', '.html', '.htm', '.json', '.py', '.js', '.ts', '.java',
  '.c', '.cpp', '.h', '.cs', '.go', '.rs', '.rb', '.php', '.sh', '.sql', '.yaml', '.yml', '.toml', '.xml', '.css',
].join(',')
