import { nextTick, ref, type Ref } from 'vue'
import { ApiError, errorMessage } from '@/api/errors'

/** Bring the first field marked invalid into view and focus it (after the errors rendered). */
export async function revealInvalidField(): Promise<void> {
  await nextTick()
  const field = document.querySelector<HTMLElement>('[aria-invalid="true"]')
  if (!field) return
  field.scrollIntoView?.({ block: 'center', behavior: 'smooth' })
  field.focus({ preventScroll: true })
}

/**
 * Run a form submission: tracks `busy`, a general `error` and per-field messages from the
 * API's validation details (`{loc, msg}` → `fields[loc]`, in plain words); the first invalid field is
 * scrolled to and focused.
 */
export function useSubmit(): {
  busy: Ref<boolean>
  error: Ref<string | null>
  fields: Ref<Record<string, string>>
  run: (action: () => Promise<void>) => Promise<boolean>
} {
  const busy = ref(false)
  const error = ref<string | null>(null)
  const fields = ref<Record<string, string>>({})

  async function run(action: () => Promise<void>): Promise<boolean> {
    busy.value = true
    error.value = null
    fields.value = {}
    try {
      await action()
      return true
    } catch (e) {
      fields.value = e instanceof ApiError ? e.fieldErrors : {}
      if (Object.keys(fields.value).length === 0) error.value = errorMessage(e)
      else void revealInvalidField()
      return false
    } finally {
      busy.value = false
    }
  }

  return { busy, error, fields, run }
}
