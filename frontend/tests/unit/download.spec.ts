import { describe, expect, it } from 'vitest'
import { filenameFromDisposition } from '@/lib/download'

describe('download names', () => {
  it('prefers the RFC 5987 name, decoded', () => {
    expect(filenameFromDisposition(`attachment; filename="Resume plans.zip"; filename*=UTF-8''R%C3%A9sum%C3%A9%20plans.zip`))
      .toBe('Résumé plans.zip')
  })

  it('falls back to the quoted or bare name', () => {
    expect(filenameFromDisposition('attachment; filename="Trip notes.md"')).toBe('Trip notes.md')
    expect(filenameFromDisposition('attachment; filename=notes.json')).toBe('notes.json')
    expect(filenameFromDisposition(`attachment; filename="plain.md"; filename*=UTF-8''%E0%A4%A`)).toBe('plain.md')
  })

  it('gives null without a name', () => {
    expect(filenameFromDisposition(null)).toBeNull()
    expect(filenameFromDisposition('attachment')).toBeNull()
  })
})
