import { ref } from 'vue'
import { defineStore } from 'pinia'
import { modelsApi } from '@/api/models'
import { DEFAULT_MODEL, FALLBACK_MODELS, type ModelInfo } from '@/types/models'

/** Models to pick from; the form falls back to a free-text "provider/model" field. */
export const useModelsStore = defineStore('models', () => {
  const models = ref<ModelInfo[]>(FALLBACK_MODELS)
  const defaultModel = ref(DEFAULT_MODEL)
  const fromServer = ref(false)
  const unavailable = ref<Record<string, Record<string, string>>>({})
  let loading: Promise<void> | null = null

  function load(): Promise<void> {
    loading ??= modelsApi.list().then(
      (page) => {
        if (page.data.length) models.value = page.data
        defaultModel.value = page.default_model || DEFAULT_MODEL
        unavailable.value = page.unavailable ?? {}
        fromServer.value = true
      },
      () => {
        loading = null // keep the fallback; try again next time
      },
    )
    return loading
  }

  /** Providers changed: fetch the list again next time. */
  function invalidate(): void {
    loading = null
  }

  return { models, defaultModel, fromServer, unavailable, load, invalidate }
})
