import { ref } from 'vue'
import { defineStore } from 'pinia'
import { FALLBACK_MODELS, type ModelInfo } from '@/types/models'

/** Models to pick from. GET /api/models is not served yet: the fallback list stands in. */
export const useModelsStore = defineStore('models', () => {
  const models = ref<ModelInfo[]>(FALLBACK_MODELS)
  const fromServer = ref(false)
  return { models, fromServer }
})
