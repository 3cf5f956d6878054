import { describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import EmbeddingStatus from '@/components/knowledge/EmbeddingStatus.vue'
import type { KnowledgeBase } from '@/api/types'

const base = (over: Partial<KnowledgeBase>): KnowledgeBase => ({
  id: 'kb1', name: 'Notes', description: '', embedding_model: 'local/all-minilm-l6-v2-int8', embedding_dimensions: 384,
  embedding_status: 'current', embedding_error: null, server_embedding_model: 'local/all-minilm-l6-v2-int8',
  embedding_done: 0, embedding_total: 0, document_count: 1, chunk_count: 4,
  created_at: '2026-12-05T00:00:00Z', updated_at: '2026-12-05T00:00:00Z', ...over,
})

describe('EmbeddingStatus', () => {
  it('shows re-embedding progress and no button while it runs', () => {
    const w = mount(EmbeddingStatus, { props: { base: base({ embedding_status: 'reembedding', embedding_done: 3, embedding_total: 10 }) } })
    expect(w.text()).toContain('re-embedding 3/10')
    expect(w.find('button').exists()).toBe(false)
  })

  it('names both models when the base is stale, and the button asks for a re-embed', async () => {
    const w = mount(EmbeddingStatus, { props: { base: base({
      embedding_status: 'stale', embedding_model: 'openai/text-embedding-3-small', embedding_dimensions: 64 }) } })
    expect(w.text()).toContain('embedded with another model')
    expect(w.text()).toContain('openai/text-embedding-3-small')
    expect(w.text()).toContain('local/all-minilm-l6-v2-int8')
    await w.find('button').trigger('click')
    expect(w.emitted('reembed')).toHaveLength(1)
  })

  it('shows why a re-embed failed', () => {
    const w = mount(EmbeddingStatus, { props: { base: base({ embedding_status: 'reembed_failed', embedding_error: 'Provider down' }) } })
    expect(w.text()).toContain('re-embedding failed')
    expect(w.text()).toContain('Provider down')
    expect(w.find('button').text()).toContain('Re-embed')
  })
})
